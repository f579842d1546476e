"""A trial worker: `python -m tuning.trial --data DATA.npz --answers FD` (started by `tuning.workers`).

It imports TensorFlow and loads the data once, then reads one trial request a
line from stdin (hypermodel config, hyperparameters, epochs, checkpoint and
TensorBoard paths), builds and trains the model with the callbacks KerasTuner
would add in-process (best-epoch checkpoint, TensorBoard with hparams), and
answers on file descriptor FD with one JSON line: `{"history", "best_value",
"rss_kb", "peak_rss_kb"}`, or `{"failed"}` (a configuration that cannot work)
or `{"error"}`. It ends at the end of its input, or when the searching process
dies (Linux: the parent-death signal).
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (a killed search leaves no worker training)."""
    import ctypes
    import os
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the call
        os._exit(1)


def _load_data(path: str):
    import numpy as np

    from kerazoo.data import Data, make_pipeline
    from kerazoo.spec import DataSpec

    with np.load(path, allow_pickle=False) as npz:
        arrays = {split: (npz[f"{split}_x"], npz[f"{split}_y"]) for split in ("train", "validation")
                  if f"{split}_x" in npz}
        meta = json.loads(str(npz["meta"]))
    spec = DataSpec.from_dict(meta["spec"])
    batch = meta["options"].get("batch_size", 32)
    pipes = {split: make_pipeline(x, y, batch_size=batch, shuffle=split == "train",
                                  seed=meta["options"].get("seed", 0), dtype=spec.input_dtype)
             for split, (x, y) in arrays.items()}
    return Data(train=pipes["train"], validation=pipes.get("validation"), test=None, spec=spec,
                source=meta["source"], options=meta["options"], arrays=arrays)


def _rss_kb() -> int:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run(spec: dict, data) -> dict:
    """Build, train and checkpoint one trial on `data`; returns what the searching process reads back."""
    import keras
    import keras_tuner as kt

    from kerazoo.compat import tuner_utils
    from tuning.hypermodel import ZooHyperModel
    from tuning.tuners import release_freed_memory

    keras.backend.clear_session()  # as KerasTuner does before each trial's build
    release_freed_memory()
    hypermodel = ZooHyperModel.from_config(spec["hypermodel"], data)
    hp = kt.HyperParameters.from_config(spec["hyperparameters"])
    hp.values = dict(spec["values"])
    if hypermodel.folds:  # cross-validated: the folds' models, scored on their held-out folds
        try:
            return {"history": hypermodel.cross_validate(hp).history, "best_value": None}
        except kt.errors.FailedTrialError as err:
            return {"failed": str(err)}
    try:
        model = hypermodel.build(hp)
    except kt.errors.FailedTrialError as err:
        return {"failed": str(err)}
    if spec.get("load_weights"):  # Hyperband: continue from the earlier round's best epoch
        model.load_weights(spec["load_weights"])
    callbacks = []
    checkpoint = None
    if spec.get("checkpoint"):
        checkpoint = tuner_utils().SaveBestEpoch(kt.Objective(*spec["objective"]), spec["checkpoint"])
        if spec.get("best_value") is not None:
            checkpoint.best_value = spec["best_value"]
        callbacks.append(checkpoint)
    if spec.get("tensorboard"):
        from tensorboard.plugins.hparams import api as hparams_api

        callbacks.append(keras.callbacks.TensorBoard(spec["tensorboard"], write_graph=False, profile_batch=0))
        callbacks.append(hparams_api.KerasCallback(
            writer=spec["tensorboard"], hparams=tuner_utils().convert_hyperparams_to_hparams(hp, hparams_api),
            trial_id=spec["trial_id"]))
    history = hypermodel.fit(hp, model, epochs=spec.get("epochs"), initial_epoch=spec.get("initial_epoch"),
                             callbacks=callbacks, verbose=spec.get("verbose", 0))
    return {"history": history.history, "best_value": checkpoint.best_value if checkpoint else None}


def serve(data_file: str, answers, requests=None) -> int:
    """Answer trial requests (JSON lines on `requests`, stdin by default) until their end; the trials run."""
    import gc

    import keras  # noqa: F401  (the import the worker exists to pay once)

    data = _load_data(data_file)
    gc.freeze()  # TensorFlow's import leaves millions of objects: keep them out of every collection
    done = 0
    for line in requests if requests is not None else sys.stdin:
        if not line.strip():
            continue
        spec = json.loads(line)
        try:
            result = run(spec, data)
        except Exception as err:  # reported to the searching process, which marks the trial invalid
            result = {"error": f"{type(err).__name__}: {' '.join(str(err).split())}"}
        result.update(rss_kb=_rss_kb(), peak_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        answers.write(json.dumps(result, default=float) + "\n")
        answers.flush()
        done += 1
    return done


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuning.trial", description="a recycled trial worker")
    parser.add_argument("--data", required=True, help="the .npz of the search's arrays")
    parser.add_argument("--answers", type=int, required=True, help="file descriptor to answer on")
    parser.add_argument("--import", dest="modules", action="append", default=[],
                        help="a module to import first (the model family's)")
    args = parser.parse_args(argv)
    _die_with_parent()
    from kerazoo.console import quiet_tensorflow_import

    quiet_tensorflow_import()  # TensorFlow's native start-up chatter is not an error worth reporting
    import kerazoo  # noqa: F401  (registers the zoo's families)

    for module in args.modules:
        importlib.import_module(module)
    with open(args.answers, "w", closefd=True) as answers:
        serve(args.data, answers)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
