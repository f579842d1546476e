"""Export of zoo models to SavedModel and TFLite, with verification."""
