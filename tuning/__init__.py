"""Hyperparameter search over the zoo's declared search spaces (KerasTuner)."""
