"""Every private upstream API the zoo uses is still there in the installed libraries, and guarded.

Each accessor of `kerazoo.compat` is called on a real object of the installed
library: an upgrade that renames one fails here, not in a user's run.
"""

from __future__ import annotations

import configparser
import re
import warnings
from pathlib import Path

import pytest

from kerazoo import compat

ROOT = Path(__file__).resolve().parent.parent


def test_keras_private_names():
    import keras

    assert isinstance(compat.keras_home(), str)
    inner = keras.Sequential([keras.layers.Dense(2)])
    outer = keras.Sequential([keras.Input((3,)), inner])
    assert {"Sequential", "Dense"} <= {type(x).__name__ for x in compat.flatten_layers(outer, include_self=False)}
    outer._initial_epoch = 3
    compat.reset_initial_epoch(outer)
    assert outer._initial_epoch is None
    compat.check_backup_and_restore(keras.callbacks.BackupAndRestore(str(ROOT / "no-such-backup")))
    outer.compile(optimizer="adam", loss="mse")
    compat.symbolic_build(outer, (keras.KerasTensor((None, 3)), keras.KerasTensor((None, 2))))
    assert outer.optimizer.built


def test_the_zoos_checkpoint_callback_still_fits_keras_backup_and_restore(tmp_path):
    import keras

    from kerazoo.resume import RunBackup

    callback = RunBackup(tmp_path)
    assert isinstance(callback, keras.callbacks.BackupAndRestore)
    assert type(callback)._save_model is not keras.callbacks.BackupAndRestore._save_model  # still overrides it


def test_keras_hub_private_names():
    from kerazoo import build
    from kerazoo.lm.model import gpt_layers

    block = gpt_layers(build("gpt-nano", num_layers=1, compile=False))["blocks"][0]
    attention = compat.self_attention(block)
    assert [type(p).__name__ for p in compat.attention_projections(attention)] == ["EinsumDense"] * 4
    assert [type(p).__name__ for p in compat.feedforward_projections(block)] == ["Dense"] * 2


def test_keras_tuner_private_names(tmp_path):
    import keras_tuner as kt

    assert hasattr(compat.tuner_utils(), "SaveBestEpoch")
    assert hasattr(compat.tuner_utils(), "convert_hyperparams_to_hparams")
    assert isinstance(compat.oracle_client().TIMEOUT, (int, float))
    assert hasattr(compat.oracle_chief(), "OracleServicer") and hasattr(compat.oracle_chief(), "exit_chief")
    assert hasattr(compat.tuner_protos(), "get_service_grpc")
    oracle = kt.oracles.RandomSearchOracle(objective="val_loss", max_trials=1)
    assert compat.retry_queue(oracle) == []
    compat.check_tuner_overrides()


def test_litert_private_names(tmp_path):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from export import convert_tflite, write_savedmodel
    from kerazoo import build

    write_savedmodel(build("mlp", input_shape=(4,), num_classes=3, depth=1), tmp_path / "sm")
    interpreter = Interpreter(model_content=convert_tflite(tmp_path / "sm"))
    ops = {op["op_name"] for op in compat.tflite_ops_details(interpreter)}
    assert "FULLY_CONNECTED" in ops and np.all([isinstance(o, str) for o in ops])


def test_a_missing_private_name_fails_with_the_package_and_the_tested_versions():
    class Block:  # a KerasHub block from a release that renamed its attention layer
        pass

    with pytest.raises(RuntimeError, match=r"kerazoo needs TransformerDecoder._self_attention_layer from keras-hub, "
                                           r"which keras-hub \S+ no longer has; .*pip install 'keras-hub>=0.18,<0.33'"):
        compat.self_attention(Block())


def test_an_untested_version_warns_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            compat.check_version("keras", version="99.0")
    assert len(caught) == 1 and "keras 99.0 is outside the versions kerazoo was tested with" in str(caught[0].message)


def test_setup_cfg_bounds_are_the_tested_versions():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    requires = {re.split(r"[<>=!~ ]", line.strip())[0]: line.strip()
                for line in cfg.get("options", "install_requires").splitlines() if line.strip()}
    for package, (low, high) in compat.TESTED.items():
        assert f">={low}" in requires[package] and f"<{high}" in requires[package], requires[package]
    unbounded = [line for line in requires.values() if "<" not in line]
    assert not unbounded, f"no upper bound: {unbounded}"
