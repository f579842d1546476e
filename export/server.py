"""`kerazoo serve`: a local HTTP server that speaks TensorFlow Serving's REST API, for development and tests.

It serves the SavedModels under an export root (`<root>/<model>/<version>/`,
TensorFlow Serving's layout; or a single model's folder of versions), loaded
with `tf.saved_model.load`, so what answers is the artifact TensorFlow Serving
would serve, not the Keras model. Like TensorFlow Serving's default policy it
serves the newest version of each model, and a poller picks up a new version
folder (or a new model) without a restart: the new version is loaded, its
warm-up records run, and then it replaces the old one. Built on werkzeug's WSGI
server (threaded). For production, serve the same folder with TensorFlow
Serving (`docker run tensorflow/serving`): the client code is the same.

Routes: `GET /v1/models/NAME[/versions/N]` (status), `GET
/v1/models/NAME[/versions/N]/metadata` (signatures), `POST
/v1/models/NAME[/versions/N]:predict` (`export.rest`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from export.rest import RestError, parse_body, request_arrays, response_body

__all__ = ["ModelRepository", "Servable", "make_app", "make_server", "serve", "server_process", "find_versions",
           "MAX_BODY_MB"]

MAX_BODY_MB = 64
PREDICT = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?:(\w+)")
STATUS = re.compile(r"/v1/models(?:/([^/:]+))?(?:/versions/(\d+))?(/metadata)?/?")


def find_versions(root: str | os.PathLike) -> dict[str, dict[int, Path]]:
    """The SavedModels under an export root: model name -> version -> folder.

    `root` is an export root (`<root>/<model>/<version>/saved_model.pb`) or one
    model's folder (`<root>/<version>/saved_model.pb`, named after the folder).
    Hidden folders (an export being built) are skipped.

    Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for v in ("cnn/1", "cnn/2", "mlp/1", "cnn/.partial-3-1-ab"):
    ...     (root / v).mkdir(parents=True); _ = (root / v / "saved_model.pb").write_bytes(b"")
    >>> {name: sorted(versions) for name, versions in find_versions(root).items()}
    {'cnn': [1, 2], 'mlp': [1]}
    >>> sorted(find_versions(root / "cnn")["cnn"])
    [1, 2]
    """
    root = Path(root)

    def versions(folder: Path) -> dict[int, Path]:
        try:
            return {int(p.name): p for p in folder.iterdir()
                    if p.name.isdigit() and (p / "saved_model.pb").is_file()}
        except OSError:
            return {}

    own = versions(root)
    if own:
        return {root.resolve().name: own}
    found = {}
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.is_dir() and not folder.name.startswith("."):
            mine = versions(folder)
            if mine:
                found[folder.name] = mine
    return found


@dataclass
class Servable:
    """One loaded model version: its signatures (callable) and their declared inputs and outputs."""

    name: str
    version: int
    path: Path
    loaded: Any = field(repr=False)
    signatures: dict = field(repr=False)
    defs: dict = field(repr=False)

    @classmethod
    def load(cls, name: str, version: int, path: Path) -> Servable:
        """Load a version folder with `tf.saved_model.load` and run its warm-up records, as TF Serving does."""
        import tensorflow as tf

        from export.manifest import signature_defs, signatures
        from export.warmup import WARMUP_FILE, check_warmup

        loaded = tf.saved_model.load(str(path))
        if (path / WARMUP_FILE).is_file():
            check_warmup(path, loaded=loaded)
        return cls(name, version, path, loaded, signatures(path), signature_defs(path))

    def predict(self, payload: dict) -> dict:
        """Answer a parsed predict body (`export.rest`)."""
        import tensorflow as tf

        name = payload.get("signature_name") or "serving_default"
        if name not in self.signatures:
            raise RestError(f'Serving signature name: "{name}" not found in signature def '
                            f"(this model has {', '.join(self.signatures)})")
        arrays, fmt = request_arrays(payload, self.signatures[name]["inputs"])
        fn = self.loaded.signatures[name]
        try:
            outputs = fn(**{k: tf.constant(v) for k, v in arrays.items()})
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as err:
            raise RestError(str(err).strip().splitlines()[0][:500]) from None
        return response_body({k: v.numpy() for k, v in outputs.items()}, fmt)


class ModelRepository:
    """The models under an export root, newest version of each loaded, new versions picked up by `refresh`.

    Example:
    >>> import tempfile
    >>> repo = ModelRepository(tempfile.mkdtemp())
    >>> repo.refresh(), repo.names()
    ([], [])
    >>> repo.get("cnn")
    Traceback (most recent call last):
    ...
    export.rest.RestError: Servable not found for request: Latest(cnn)
    """

    def __init__(self, root: str | os.PathLike, *, log=None):
        self.root = Path(root)
        self.log = log or (lambda message: print(f"kerazoo serve: {message}", file=sys.stderr, flush=True))
        self._served: dict[str, Servable] = {}
        self._failed: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(self._served)

    def refresh(self) -> list[tuple[str, int]]:
        """Load the newest version of each model when it is not the one served; return what was loaded."""
        changed = []
        for name, versions in find_versions(self.root).items():
            newest = max(versions)
            current = self._served.get(name)
            if current is not None and current.version == newest and current.path == versions[newest]:
                continue
            if (name, newest) in self._failed:
                continue
            try:
                servable = Servable.load(name, newest, versions[newest])
            except Exception as err:  # a damaged version: keep serving the one before, say why once
                self._failed[(name, newest)] = str(err).splitlines()[0][:300] if str(err) else type(err).__name__
                self.log(f"{name} version {newest} does not load ({self._failed[(name, newest)]}); "
                         + (f"still serving version {current.version}" if current else "not served"))
                continue
            with self._lock:
                self._served[name] = servable
            changed.append((name, newest))
            self.log(f"serving {name} version {newest} from {versions[newest]}")
        return changed

    def get(self, name: str, version: int | None = None) -> Servable:
        """The served version of `name` (the newest), or `version` when it is the one served; else 404."""
        with self._lock:
            servable = self._served.get(name)
        if servable is None or (version is not None and version != servable.version):
            what = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            served = f"; {name} serves version {servable.version}" if servable is not None else \
                (f"; this server serves {', '.join(self.names())}" if self._served else "")
            raise RestError(f"Servable not found for request: {what}{served}", status=404)
        return servable

    def poll(self, every: float, stop: threading.Event) -> threading.Thread:
        """Refresh every `every` seconds in a daemon thread until `stop` is set."""
        def loop():
            while not stop.wait(every):
                try:
                    self.refresh()
                except Exception as err:  # keep polling: a folder may vanish between listing and loading
                    self.log(f"could not scan {self.root}: {err}")

        thread = threading.Thread(target=loop, name="kerazoo-serve-poll", daemon=True)
        thread.start()
        return thread


def _status(servable: Servable) -> dict:
    return {"model_version_status": [{"version": str(servable.version), "state": "AVAILABLE",
                                      "status": {"error_code": "OK", "error_message": ""}}]}


def _metadata(servable: Servable) -> dict:
    return {"model_spec": {"name": servable.name, "signature_name": "", "version": str(servable.version)},
            "metadata": {"signature_def": {"signature_def": servable.defs}}}


def make_app(repository: ModelRepository, *, max_body_mb: float = MAX_BODY_MB):
    """The WSGI application of TF Serving's REST API over `repository` (werkzeug).

    Example:
    >>> import tempfile
    >>> from werkzeug.test import Client
    >>> client = Client(make_app(ModelRepository(tempfile.mkdtemp())))
    >>> response = client.get("/v1/models/cnn")
    >>> response.status_code, response.json
    (404, {'error': 'Servable not found for request: Latest(cnn)'})
    >>> client.post("/v1/models/cnn:predict", data="{").status_code
    404
    """
    from werkzeug.wrappers import Request, Response

    limit = int(max_body_mb * (1 << 20))

    def answer(request) -> tuple[int, dict]:
        path = request.path
        if request.method == "POST" and (match := PREDICT.fullmatch(path)):
            name, version, method = match.group(1), match.group(2), match.group(3)
            if method != "predict":
                raise RestError(f"kerazoo serve answers :predict; :{method} is not served "
                                f"(the zoo's SavedModels have predict signatures only)")
            servable = repository.get(name, int(version) if version else None)
            length = request.content_length
            if length is not None and length > limit:
                raise RestError(f"the request body is {length} bytes; this server takes at most {limit} "
                                f"(--max-body-mb {max_body_mb:g})", status=413)
            body = request.stream.read(limit + 1)
            if len(body) > limit:
                raise RestError(f"the request body is over {limit} bytes (--max-body-mb {max_body_mb:g})",
                                status=413)
            return 200, servable.predict(parse_body(body))
        if request.method == "GET" and (match := STATUS.fullmatch(path)):
            name, version, metadata = match.groups()
            if not name:
                raise RestError("Missing model name in request.")
            servable = repository.get(name, int(version) if version else None)
            return 200, _metadata(servable) if metadata else _status(servable)
        raise RestError(f"Malformed request: {request.method} {path}", status=404 if request.method == "GET" else 400)

    def app(environ, start_response):
        request = Request(environ)
        try:
            status, body = answer(request)
        except RestError as err:
            status, body = err.status, {"error": str(err)}
            if err.status == 413:  # read what the client sends, so it gets the answer rather than a reset
                _drain(request, limit=64 * limit)
        except Exception as err:  # a bug or an unforeseen failure: an answer, and the server goes on
            status, body = 500, {"error": f"{type(err).__name__}: {err}"}
        text = json.dumps(body, allow_nan=True)
        return Response(text, status=status, mimetype="application/json")(environ, start_response)

    return app


def _drain(request, *, limit: int) -> None:
    read = 0
    stream = request.stream
    while read < limit:
        chunk = stream.read(1 << 20)
        if not chunk:
            return
        read += len(chunk)


def make_server(root: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8501,
                max_body_mb: float = MAX_BODY_MB, log_requests: bool = False):
    """A threaded werkzeug server over the export root, its models loaded; `(server, repository)`.

    Raises:
        FileNotFoundError: no SavedModel under `root`.
        OSError: the address is taken.

    Example:
    >>> import tempfile
    >>> make_server(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: no SavedModel under ...: expected EXPORT_ROOT/<model>/<version>/saved_model.pb (what `kerazoo export` writes) or <model>/<version>/saved_model.pb
    """
    import socket

    from werkzeug.serving import WSGIRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:  # werkzeug would exit
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))  # OSError: the address is taken, or not this machine's
    repository = ModelRepository(root)
    if not find_versions(root):
        raise FileNotFoundError(f"no SavedModel under {str(root)!r}: expected EXPORT_ROOT/<model>/<version>/"
                                f"saved_model.pb (what `kerazoo export` writes) or <model>/<version>/saved_model.pb")
    repository.refresh()

    class Handler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            if log_requests:
                super().log_request(*args, **kwargs)

    server = werkzeug_server(host, port, make_app(repository, max_body_mb=max_body_mb), threaded=True,
                             request_handler=Handler)
    return server, repository


def serve(root: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8501, poll_seconds: float = 1.0,
          max_body_mb: float = MAX_BODY_MB, log_requests: bool = False, ready=None) -> None:
    """Serve the SavedModels under `root` with TensorFlow Serving's REST API until interrupted.

    Args:
        root: an export root (`<root>/<model>/<version>/`) or one model's folder.
        host: the address to bind. Defaults to "127.0.0.1" (this machine only).
        port: the port; 0 picks a free one. Defaults to 8501, TensorFlow Serving's REST port.
        poll_seconds: how often to look for new versions. Defaults to 1.0.
        max_body_mb: the largest request body, in MiB (413 beyond). Defaults to 64.
        log_requests: print a line a request. Defaults to False.
        ready: called with the base URL once the server listens. Defaults to printing the models' URLs.

    Example:
    >>> import tempfile
    >>> serve(tempfile.mkdtemp(), port=0)
    Traceback (most recent call last):
    ...
    FileNotFoundError: no SavedModel under ...
    """
    server, repository = make_server(root, host=host, port=port, max_body_mb=max_body_mb, log_requests=log_requests)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{server.server_port}"
    stop = threading.Event()
    repository.poll(poll_seconds, stop)
    if ready is None:
        for name in repository.names():
            print(f"{name}: {url}/v1/models/{name}:predict (version {repository.get(name).version})")
        print(f"listening on {url} (for development and tests; in production: docker run tensorflow/serving)",
              flush=True)
    else:
        ready(url)
    started = time.monotonic()
    try:
        server.serve_forever()
    finally:
        stop.set()
        server.server_close()
        repository.log(f"stopped after {time.monotonic() - started:.0f} s")


@contextlib.contextmanager
def server_process(root: str | os.PathLike, *, args: tuple = (), env: dict | None = None):
    """`kerazoo serve ROOT --port 0` in a child process for the block: yields `(url, process)`; always terminated.

    For tests and benchmarks of a client: the server binds a free loopback port and
    the block starts once it listens, its models loaded.

    Args:
        root: the export root.
        args: more flags of `kerazoo serve`, e.g. `("--poll-seconds", "0.2")`.
        env: the child's environment. Defaults to this process's.

    Raises:
        RuntimeError: the server stopped before it listened, with its last error line.

    Example:
    >>> import tempfile
    >>> with server_process(tempfile.mkdtemp()) as (url, process):
    ...     pass
    Traceback (most recent call last):
    ...
    RuntimeError: kerazoo serve stopped (exit 2): kerazoo: error: serve: no SavedModel under ...
    """
    import subprocess

    process = subprocess.Popen([sys.executable, "-m", "kerazoo", "serve", os.fspath(root), "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = next((line.split()[2] for line in process.stdout if line.startswith("listening on ")), None)
        if url is None:
            last = [line.strip() for line in process.stderr.read().splitlines() if line.strip()][-1:]
            raise RuntimeError(f"kerazoo serve stopped (exit {process.wait()}): {' '.join(last)}")
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
