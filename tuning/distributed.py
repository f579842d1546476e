"""Distributed tuning with KerasTuner's own chief/worker mode.

One chief process holds the oracle and serves it over gRPC; worker processes
(on this machine or others) ask it for trials, train them and report back.
KerasTuner reads three environment variables: `KERASTUNER_TUNER_ID` (`chief`, or
the worker's id), `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`.
`kerazoo tune JOB --chief [--address HOST:PORT]` and
`kerazoo tune JOB --worker ID --address HOST:PORT` set them for the process.

The chief's gRPC port has no authentication: it binds to 127.0.0.1 unless an
address is given (`--address 0.0.0.0:8000` opens it to the network; do that only
on a network you trust). The chief serves until every trial is done and every
worker that asked for trials has been told to stop.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator

from kerazoo._compat import oracle_chief, oracle_client, retry_queue, tuner_protos

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "parse_address", "environment", "serve", "check_worker_id",
           "check_role", "role_from_environment"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
ENV_KEYS = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
#: How long a worker waits for the chief to answer before it gives up (seconds).
WORKER_WAIT_S = 600


def parse_address(text: str | None, *, default_host: str = DEFAULT_HOST) -> tuple[str, int]:
    """`HOST:PORT` (or `PORT`, or `HOST`) as `(host, port)`.

    Example:
    >>> parse_address("10.0.0.5:9000"), parse_address("9001"), parse_address(None)
    (('10.0.0.5', 9000), ('127.0.0.1', 9001), ('127.0.0.1', 8000))
    >>> parse_address("host:port")
    Traceback (most recent call last):
    ...
    ValueError: --address 'host:port': expected HOST:PORT with a port in 1..65535
    """
    if text is None or str(text).strip() == "":
        return default_host, DEFAULT_PORT
    text = str(text).strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = (default_host, text) if text.isdigit() else (text, str(DEFAULT_PORT))
    host = host.strip("[]") or default_host
    if not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ValueError(f"--address {text!r}: expected HOST:PORT with a port in 1..65535")
    return host, int(port)


def check_worker_id(tuner_id: str) -> str:
    """A worker id KerasTuner can use (not containing "chief"; a file-name-safe word).

    Example:
    >>> check_worker_id("worker-1")
    'worker-1'
    >>> check_worker_id("chief2")
    Traceback (most recent call last):
    ...
    ValueError: --worker 'chief2': a worker id must not contain 'chief' (KerasTuner reads that as the chief)
    """
    if not tuner_id:
        raise ValueError("--worker needs an id: --worker ID --address HOST:PORT")
    if "chief" in tuner_id:
        raise ValueError(f"--worker {tuner_id!r}: a worker id must not contain 'chief' "
                         f"(KerasTuner reads that as the chief)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", tuner_id):
        raise ValueError(f"--worker {tuner_id!r}: use letters, digits, '-', '_' or '.'")
    return tuner_id


def check_role(role: str | None, tuner_id: str | None = None, address: str | None = None) -> None:
    """Refuse a bad combination of role, worker id and address before anything runs.

    Example:
    >>> check_role("worker", "w1", None)
    Traceback (most recent call last):
    ...
    ValueError: --worker w1: give the chief's --address HOST:PORT
    """
    if role not in (None, "chief", "worker"):
        raise ValueError(f"role must be 'chief' or 'worker', got {role!r}")
    if role == "worker":
        check_worker_id(tuner_id or "")
        if not address:
            raise ValueError(f"--worker {tuner_id}: give the chief's --address HOST:PORT")
    if role is not None:
        parse_address(address)


def role_from_environment() -> tuple[str | None, str | None, str | None]:
    """`(role, tuner_id, address)` from KerasTuner's variables when they are set, else Nones."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None, None, None
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "")
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ.get('KERASTUNER_ORACLE_PORT', '')}"
    return ("chief" if "chief" in tuner_id else "worker"), tuner_id or None, address


@contextlib.contextmanager
def environment(role: str | None, tuner_id: str | None = None, address: str | None = None,
                *, wait: float = WORKER_WAIT_S) -> Iterator[tuple[str, int] | None]:
    """Set KerasTuner's distributed variables for the block, and restore them after.

    With `role=None` the variables are removed for the block, so a stray
    `KERASTUNER_*` in the shell cannot turn a plain search into a worker.

    Args:
        role: "chief", "worker" or None.
        tuner_id: the worker's id (the chief's is "chief").
        address: `HOST:PORT`; the chief binds 127.0.0.1:8000 by default.
        wait: how long a worker waits for the chief to answer. Defaults to 600 s.

    Yields:
        `(host, port)`, or None without a role.

    Example:
    >>> with environment("chief") as where:
    ...     where, os.environ["KERASTUNER_TUNER_ID"], os.environ["KERASTUNER_ORACLE_IP"]
    (('127.0.0.1', 8000), 'chief', '127.0.0.1')
    >>> "KERASTUNER_TUNER_ID" in os.environ
    False
    """
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    where = None
    patched = None
    try:
        for k in ENV_KEYS:
            os.environ.pop(k, None)
        if role is not None:
            if role not in ("chief", "worker"):
                raise ValueError(f"role must be 'chief' or 'worker', got {role!r}")
            if role == "worker":
                if not tuner_id:
                    raise ValueError("--worker needs an id: --worker ID --address HOST:PORT")
                check_worker_id(tuner_id)
                if not address:
                    raise ValueError(f"--worker {tuner_id}: give the chief's --address HOST:PORT")
            where = parse_address(address)
            os.environ.update(KERASTUNER_TUNER_ID="chief" if role == "chief" else tuner_id,
                              KERASTUNER_ORACLE_IP=where[0], KERASTUNER_ORACLE_PORT=str(where[1]))
            if role == "worker":
                patched = oracle_client().TIMEOUT
                oracle_client().TIMEOUT = wait
        yield where
    finally:
        if patched is not None:
            oracle_client().TIMEOUT = patched
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _finished(oracle) -> bool:
    """Every trial of the budget exists, none runs and none waits for a retry."""
    max_trials = getattr(oracle, "max_trials", None)
    return bool(max_trials) and len(oracle.trials) >= max_trials and not oracle.ongoing_trials and \
        not retry_queue(oracle)


def serve(tuner, host: str, port: int, *, poll: float = 0.2, log=print) -> None:
    """Serve the tuner's oracle to workers until the search is done (KerasTuner's chief).

    KerasTuner's own loop polls every 20 seconds once a worker is stopped; this
    one uses the same servicer and exit rule, polling every `poll` seconds, and
    also ends a resumed search whose trials are all done.

    Raises:
        RuntimeError: the address cannot be bound (in use, or not this machine's).
    """
    from concurrent import futures

    import grpc

    oracle = tuner.oracle
    tuner.save()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief().OracleServicer(oracle)
    tuner_protos().get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise RuntimeError(f"the chief cannot listen on {host}:{port} (in use, or not an address of "
                           f"this machine); pick another --address")
    server.start()
    log(f"chief: serving the search on {host}:{port}; start workers with "
        f"`kerazoo tune JOB --worker ID --address {host}:{port}`")
    try:
        while True:
            time.sleep(poll)
            if (servicer.stop_triggered or _finished(oracle)) and oracle_chief().exit_chief(oracle):
                break
    finally:
        server.stop(grace=1.0)
