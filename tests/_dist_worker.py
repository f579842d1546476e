"""A worker process for tests/test_distribute.py: trains iris under a given strategy.

    python _dist_worker.py mirrored|plain_multi_worker OUT_JSON
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

mode, out = sys.argv[1], sys.argv[2]
EPOCHS = 5  # the mlp scores 92% on the digits after 4, more after 5 (tests/test_distribute.py trains the same on one device)
import tensorflow as tf  # noqa: E402

if mode == "mirrored":  # two logical CPUs, so MirroredStrategy has two replicas without a GPU
    tf.config.set_visible_devices([], "GPU")  # on a GPU machine too: "mirrored" takes the GPUs when it sees any
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = "mirrored"
else:  # the upstream strategy, without kerazoo's keras-team/keras#20585 workaround
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

import keras  # noqa: E402

from kerazoo import build, fit, load_data, model_info  # noqa: E402

keras.utils.set_random_seed(0)
data = load_data("digits", seed=0)
result = {"epochs": EPOCHS}
try:
    model = build("mlp", data.spec, strategy=strategy, width=128)
    result["distribution"] = model_info(model)["distribution"]
    fit_result = fit(model, data, epochs=EPOCHS, seed=0, verbose=0, callbacks="none")
    result["test"] = fit_result.metrics["test"]
except Exception as err:  # reported to the test, which decides
    result["error"] = f"{type(err).__name__}: {err}"
with open(out, "w") as f:
    json.dump(result, f)
