"""Every exception the zoo raises on purpose, in one place, each with the exit code `kerazoo` gives it.

Bad input is a `ValueError` and exits 2; a failure while running is a
`RuntimeError` and exits 1. Each class keeps the built-in base a caller
would catch (`except ValueError` still catches a bad run directory).

| class | raised when | exit |
| --- | --- | ---: |
| `UsageError` | a command-line value the command cannot take | 2 |
| `FlagError` | a flag outside its range, checked before TensorFlow loads | 2 |
| `RunError` | a run directory that is missing, unfinished or damaged | 2 |
| `ModelFileError` | a `.keras` file that is damaged or refused by safe mode | 2 |
| `RunDirInUse` | a run directory another live process is writing | 2 |
| `JobError` | a tuning job file that is not valid | 2 |
| `TrainingDiverged` | the loss became NaN or infinite | 1 |
| `WeightsUnavailableError` | pretrained weights that could not be downloaded | 1 |
| `ConversionError` | a model TFLite cannot convert with the ops allowed | 1 |
| `VerificationError` | an exported file that does not compute what Keras computes | 1 |
| `FidelityError` | a quantized file outside its fidelity threshold | 1 |

Importing this module costs nothing.

Example:
>>> from kerazoo.errors import RunError, TrainingDiverged, exit_code
>>> isinstance(RunError("x"), ValueError), exit_code(RunError("x")), exit_code(TrainingDiverged("nan"))
(True, 2, 1)
"""

from __future__ import annotations

__all__ = ["KerazooError", "UsageError", "FlagError", "RunError", "ModelFileError", "RunDirInUse", "JobError",
           "TrainingDiverged", "WeightsUnavailableError", "ConversionError", "VerificationError", "FidelityError",
           "exit_code", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class KerazooError(Exception):
    """The base of the zoo's own errors."""

    exit_code = EXIT_FAILED


class UsageError(KerazooError, ValueError):
    """Bad input from the command line."""

    exit_code = EXIT_USAGE


class FlagError(UsageError):
    """A flag's value that its command cannot take, caught before TensorFlow loads."""


class RunError(KerazooError, ValueError):
    """A run directory that is missing, unfinished or damaged."""

    exit_code = EXIT_USAGE


class ModelFileError(RunError):
    """A `.keras` file that is damaged, not a Keras file, or refused by safe mode."""


class RunDirInUse(RunError):
    """A run directory that another live process is writing."""


class JobError(KerazooError, ValueError):
    """A tuning job that is not valid, with the field and what was expected."""

    exit_code = EXIT_USAGE


class TrainingDiverged(KerazooError, RuntimeError):
    """The loss became NaN or infinite; the run (if any) is marked failed."""


class WeightsUnavailableError(KerazooError, RuntimeError):
    """Pretrained weights that could not be downloaded (offline, or a failed transfer)."""


class ConversionError(KerazooError, RuntimeError):
    """The TFLite converter could not convert the model with the ops allowed."""


class VerificationError(KerazooError, RuntimeError):
    """An artifact does not compute what the Keras model computes."""


class FidelityError(VerificationError):
    """A quantized file falls outside its fidelity threshold; nothing was written.

    Attributes:
        artifacts: the export's artifacts measured so far (the failing one last), for a report.
    """

    def __init__(self, message: str, artifacts: list | None = None):
        super().__init__(message)
        self.artifacts = list(artifacts or [])


def exit_code(error: BaseException) -> int:
    """The exit code `kerazoo` gives an exception: its class's, else 2 for bad input and 1 for the rest.

    Example:
    >>> exit_code(KeyError("cnnn")), exit_code(OSError("disk full")), exit_code(KeyboardInterrupt())
    (2, 1, 130)
    """
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, KerazooError):
        return error.exit_code
    if isinstance(error, (ValueError, KeyError, TypeError, FileExistsError, FileNotFoundError)):
        return EXIT_USAGE
    return EXIT_FAILED
