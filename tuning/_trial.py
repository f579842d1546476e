"""One trial in a fresh process: `python -m tuning._trial SPEC.json` (used by `isolate_trials`).

The parent tuner writes the spec (hypermodel config, hyperparameters, epochs,
checkpoint and TensorBoard paths); this process builds the model, trains it with
the same callbacks KerasTuner would add in-process (best-epoch checkpoint,
TensorBoard with hparams), and writes `{"history", "best_value", "peak_rss_kb"}`
(or `{"failed"}` / `{"error"}`) to the spec's result path.
"""

from __future__ import annotations

import json
import os
import resource
import sys


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


def run(spec: dict) -> dict:
    """Build, train and checkpoint one trial; returns what the parent reads back."""
    import keras
    import keras_tuner as kt

    from kerazoo._compat import tuner_utils
    from tuning.hypermodel import ZooHyperModel

    data = _load_data(spec["data_file"])
    hypermodel = ZooHyperModel.from_config(spec["hypermodel"], data)
    hp = kt.HyperParameters.from_config(spec["hyperparameters"])
    hp.values = dict(spec["values"])
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
    return {"history": history.history, "best_value": checkpoint.best_value if checkpoint else None,
            "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def main(argv: list[str]) -> int:
    with open(argv[0]) as f:
        spec = json.load(f)
    try:
        result = run(spec)
        code = 0 if "history" in result else 3
    except Exception as err:  # reported to the parent, which marks the trial invalid
        result, code = {"error": f"{type(err).__name__}: {' '.join(str(err).split())}"}, 1
    tmp = spec["result"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, default=float)
    os.replace(tmp, spec["result"])
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
