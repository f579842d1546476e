"""A bounded load test of `kerazoo serve`: N concurrent clients on loopback, a fixed number of requests.

Exports the zoo's cnn for digits (untrained weights: the arithmetic is the same) as a SavedModel,
starts `kerazoo serve` on a free loopback port, and sends `--requests` predict requests of
`--batch` examples (row format, JSON) from `--clients` threads, each on its own keep-alive HTTP
connection. Then the same number of calls, from the same number of threads, go to the SavedModel's
`serving_default` signature loaded in this process (`tf.saved_model.load`): the server's overhead
(HTTP, JSON, threads) is the ratio of the two. Every request is checked (status 200, one prediction
an example); the run stops by itself, and the server is always terminated.

    python benchmarks/serving_load.py                 # 4 clients, 2000 requests
    python benchmarks/serving_load.py --quick         # 4 clients, 200 requests
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import footer, options, publish  # noqa: E402


def percentiles(latencies: list[float], seconds: float) -> dict:
    """Throughput and latency figures of one side, from per-request seconds and the wall time.

    Example:
    >>> percentiles([0.001] * 99 + [0.010], 0.5)
    {'requests': 100, 'throughput_rps': 200.0, 'p50_ms': 1.0, 'p99_ms': 1.09, 'mean_ms': 1.09}
    """
    ms = sorted(1e3 * t for t in latencies)
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98] if len(ms) > 1 else ms[0]
    return {"requests": len(ms), "throughput_rps": round(len(ms) / seconds, 1), "p50_ms": round(statistics.median(ms), 3),
            "p99_ms": round(p99, 3), "mean_ms": round(statistics.fmean(ms), 3)}


def drive(call, *, clients: int, requests: int) -> tuple[list[float], float]:
    """Run `requests` calls of `call(state)` from `clients` threads; return each call's seconds and the wall time.

    Each thread makes its own `state` (a connection) by calling `call(None)` first.

    Example:
    >>> latencies, wall = drive(lambda state: state or "conn", clients=3, requests=10)
    >>> len(latencies), wall > 0
    (10, True)
    """
    counter = iter(range(requests))
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[BaseException] = []

    def worker():
        state = call(None)
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            start = time.perf_counter()
            try:
                call(state)
            except BaseException as err:  # noted, and the run goes on: the count stays bounded
                errors.append(err)
                continue
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} of {requests} calls failed; the first: {errors[0]!r}")
    return latencies, wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--requests", type=int, default=None, help="requests in all (default 2000; 200 with --quick)")
    parser.add_argument("--batch", type=int, default=1, help="examples a request (default 1)")
    parser.add_argument("--quick", action="store_true", help="200 requests: a check that it runs")
    args = options(parser).parse_args(argv)
    requests = args.requests or (200 if args.quick else 2000)

    import numpy as np
    import tensorflow as tf

    from export import export_model
    from export.server import server_process
    from kerazoo import build, load_data

    data = load_data("digits", seed=0)
    root = Path(tempfile.mkdtemp(prefix="serving-load-"))
    export_model(build("cnn", data.spec), root, formats="savedmodel", verify_data=data.arrays["test"])
    x = data.arrays["test"][0][:args.batch]
    body = json.dumps({"instances": x.tolist()}).encode()
    host_port = None

    def http_call(conn):
        if conn is None:
            return http.client.HTTPConnection(host_port, timeout=60)
        conn.request("POST", "/v1/models/cnn:predict", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = json.loads(response.read())
        if response.status != 200 or len(answer["predictions"]) != len(x):
            raise RuntimeError(f"status {response.status}: {answer}")
        return conn

    serve_fn = tf.saved_model.load(str(root / "cnn" / "1")).signatures["serving_default"]

    def local_call(state):
        if state is None:
            return True
        out = serve_fn(inputs=tf.constant(x))
        np.asarray(out["probabilities"])  # the answer, read as the server reads it
        return state

    with server_process(root) as (url, _):  # terminated whatever happens
        host_port = url.split("//", 1)[1]
        drive(http_call, clients=args.clients, requests=min(50, requests))  # warm up both sides alike
        drive(local_call, clients=args.clients, requests=min(50, requests))
        server = percentiles(*drive(http_call, clients=args.clients, requests=requests))
        local = percentiles(*drive(local_call, clients=args.clients, requests=requests))
    result = {"model": "cnn (digits, 8x8x1)", "clients": args.clients, "batch": args.batch, "requests": requests,
              "server": server, "in_process": local,
              "ratio": {"throughput": round(local["throughput_rps"] / server["throughput_rps"], 2),
                        "p50": round(server["p50_ms"] / local["p50_ms"], 2),
                        "p99": round(server["p99_ms"] / local["p99_ms"], 2)}}
    publish("serving_load", result, args, render)


def render(saved: dict) -> str:
    """The load test as a Markdown table: each side's throughput and latency, and the server's ratio."""
    r = saved["result"]
    rows = ["| | requests/s | p50 latency | p99 latency |", "| --- | --- | --- | --- |"]
    for key, label in (("server", "`kerazoo serve` (HTTP + JSON, loopback)"),
                       ("in_process", "SavedModel in-process (`tf.saved_model.load`)")):
        s = r[key]
        rows.append(f"| {label} | {s['throughput_rps']:g} | {s['p50_ms']:.2f} ms | {s['p99_ms']:.2f} ms |")
    q = r["ratio"]
    rows.append(f"| server / in-process | {1 / q['throughput']:.2f}x | {q['p50']:.1f}x | {q['p99']:.1f}x |")
    return "\n".join(rows + ["", f"{r['clients']} concurrent clients, {r['requests']} requests of {r['batch']} "
                             f"example{'s' if r['batch'] > 1 else ''} each, {r['model']}; the same calls from "
                             f"the same number of threads in-process. {footer(saved)}"])


if __name__ == "__main__":
    main()
