"""Distribution and precision: which `tf.distribute` strategy and dtype policy a run uses.

Strategies by name: `auto` (a TPU when one is found, MirroredStrategy over all GPUs
when there are several, else the default one-device strategy), `default`,
`one_device`, `mirrored`, `multi_worker` (reads TF_CONFIG) and `tpu`, or a
`tf.distribute.Strategy` instance. Precision: `float32`, `mixed_float16`,
`mixed_bfloat16`, or `auto` (mixed_float16 on GPUs of compute capability 7.0 or
more, mixed_bfloat16 on TPU, float32 on CPU).

The batch size rule: the batch size you give is per replica; the global batch is
`batch_size * replicas` (the number of devices that train in sync), so each
device sees the batch it would see alone. `fit` logs the rule and the result.

Multi-worker training through Keras 3's `model.fit` is broken upstream
(keras-team/keras#20585, tensorflow/tensorflow#72388); the workaround lives in
`MultiWorkerMirroredStrategy20585` below and nowhere else.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

__all__ = ["resolve_strategy", "resolve_precision", "distribution_info", "is_chief",
           "STRATEGIES", "PRECISIONS"]

log = logging.getLogger("kerazoo")

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def _multi_worker_class():
    """`MultiWorkerMirroredStrategy` with the keras-team/keras#20585 workaround.

    Keras 3 (measured with 3.15.1 on TF 2.21) calls `strategy.reduce` in two ways
    the collective all-reduce cannot take: `Trainer._maybe_symbolic_build` reduces
    the whole `(x, y)` batch tuple at once ("Attempt to convert a value
    (PerReplica ..."), and `reduce_per_replica` reduces scalar losses and metrics
    with `axis=0` ("Invalid reduction dimension 0 for input with 0 dimensions").
    This subclass reduces nested values element by element and drops the axis for
    scalars. Remove it when the upstream issue is fixed; the multi-worker test
    fails without it.
    """
    import tensorflow as tf

    class MultiWorkerMirroredStrategy20585(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis=None):
            if isinstance(value, (tuple, list, dict)):
                return tf.nest.map_structure(lambda v: self.reduce(reduce_op, v, axis), value)
            if axis is not None and _rank(value) == 0:
                axis = None
            return super().reduce(reduce_op, value, axis)

    return MultiWorkerMirroredStrategy20585


def _rank(value) -> int | None:
    import tensorflow as tf

    if isinstance(value, tf.distribute.DistributedValues):
        value = value.values[0]
    shape = getattr(value, "shape", None)
    return None if shape is None else len(shape)


def tf_config() -> dict | None:
    """The parsed TF_CONFIG, or None when it is not set.

    Raises:
        ValueError: TF_CONFIG is not JSON with a `cluster` and a `task`.

    Example:
    >>> import os
    >>> os.environ["TF_CONFIG"] = "{not json"
    >>> tf_config()
    Traceback (most recent call last):
    ...
    ValueError: TF_CONFIG does not parse as JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); expected {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}
    >>> del os.environ["TF_CONFIG"]
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    example = '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}'
    try:
        config = json.loads(raw)
    except ValueError as err:
        raise ValueError(f"TF_CONFIG does not parse as JSON ({err}); expected {example}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) or \
            not isinstance(config.get("task"), dict):
        raise ValueError(f"TF_CONFIG needs a 'cluster' and a 'task' object; expected {example}")
    task = config["task"]
    members = config["cluster"].get(task.get("type"))
    if not isinstance(members, list) or not isinstance(task.get("index"), int) or \
            not 0 <= task["index"] < len(members):
        raise ValueError(f"TF_CONFIG task {task!r} is not a member of its cluster "
                         f"{json.dumps(config['cluster'])}")
    return config


def is_chief() -> bool:
    """True unless TF_CONFIG names this process a non-chief worker.

    The chief is the `chief` task, or worker 0 when the cluster has no chief; only
    it writes the run directory.

    Example:
    >>> is_chief()
    True
    """
    config = tf_config()
    if not config:
        return True
    task = config["task"]
    if task["type"] == "chief":
        return True
    return task["type"] == "worker" and task["index"] == 0 and "chief" not in config["cluster"]


def resolve_strategy(strategy: Any = "auto"):
    """A `tf.distribute.Strategy` for a name (or the instance itself).

    Args:
        strategy: one of `STRATEGIES` or a `tf.distribute.Strategy`. Defaults to "auto".

    Returns:
        The strategy.

    Raises:
        ValueError: an unknown name, `multi_worker` without a valid TF_CONFIG, or
            `tpu` with no TPU.

    Example:
    >>> resolve_strategy("default").num_replicas_in_sync
    1
    >>> resolve_strategy("mirorred")
    Traceback (most recent call last):
    ...
    ValueError: strategy must be one of ['auto', 'default', 'one_device', 'mirrored', 'multi_worker', 'tpu'] or a tf.distribute.Strategy, got 'mirorred'; did you mean 'mirrored'?
    """
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy is None:
        strategy = "auto"
    if strategy not in STRATEGIES:
        import difflib

        close = difflib.get_close_matches(str(strategy), STRATEGIES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"strategy must be one of {list(STRATEGIES)} or a tf.distribute.Strategy, "
                         f"got {strategy!r}{hint}")
    if strategy == "multi_worker":  # first: collectives must be set up before any device query
        if tf_config() is None:
            raise ValueError("strategy 'multi_worker' needs TF_CONFIG: set it in each worker's "
                             "environment, e.g. TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:port\", "
                             "\"host2:port\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}'")
        return _multi_worker_class()()
    gpus = tf.config.list_logical_devices("GPU")
    if strategy == "auto":
        tpu = _find_tpu()
        if tpu is not None:
            return tpu
        if len(gpus) > 1:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    if strategy == "default":
        return tf.distribute.get_strategy()
    if strategy == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if strategy == "mirrored":
        cpus = tf.config.list_logical_devices("CPU")
        devices = [d.name for d in gpus] or [d.name for d in cpus]
        return tf.distribute.MirroredStrategy(devices)
    tpu = _find_tpu()
    if tpu is None:
        raise ValueError("strategy 'tpu': no TPU found on this machine")
    return tpu


def _find_tpu():
    import tensorflow as tf

    if not tf.config.list_logical_devices("TPU") and not os.environ.get("TPU_NAME"):
        return None
    try:  # pragma: no cover (no TPU here)
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError):
        return None


def resolve_precision(precision: str = "auto", strategy=None) -> str:
    """The Keras dtype policy name for a precision setting.

    `"auto"` is mixed_float16 where a GPU of compute capability 7.0 or more is
    visible, mixed_bfloat16 under a TPU strategy, float32 otherwise (a CPU).

    Example:
    >>> resolve_precision("mixed_bfloat16"), resolve_precision("float32")  # a precision named is used as is
    ('mixed_bfloat16', 'float32')
    >>> resolve_precision("half")
    Traceback (most recent call last):
    ...
    ValueError: precision must be one of ['auto', 'float32', 'mixed_float16', 'mixed_bfloat16'], got 'half'
    """
    if precision is None:
        precision = "auto"
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    import tensorflow as tf

    if strategy is not None and isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        if details.get("compute_capability", (0, 0)) >= (7, 0):
            return "mixed_float16"
    return "float32"


def distribution_info(strategy, precision: str | None = None) -> dict:
    """What a run used, for logs and `config.json`: strategy, replicas, devices, precision."""
    try:
        devices = list(strategy.extended.worker_devices)
    except (RuntimeError, AttributeError):  # the default strategy: the current device
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        devices = [(gpus[0] if gpus else tf.config.list_logical_devices("CPU")[0]).name]
    info = {"strategy": type(strategy).__name__, "replicas": int(strategy.num_replicas_in_sync),
            "devices": devices}
    if precision is not None:
        info["precision"] = precision
    config = tf_config() if info["strategy"].startswith("MultiWorker") else None
    if config:
        info["workers"] = len(config["cluster"].get("worker", [])) + len(config["cluster"].get("chief", []))
        info["task"] = config["task"]
    return info
