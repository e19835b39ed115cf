"""The local AWS emulator as an HTTP server (moto's dispatcher plus our control endpoints).

Control endpoints, served in front of moto:

* ``GET /_local_aws/health`` -> ``{"status": "ok"}``
* ``GET /_local_aws/config`` -> the full config (see ``config``)
* ``POST /_local_aws/config`` with a JSON object -> partial update, answers the full config
  (400 ``{"error": ...}`` on an unknown knob or a bad value)
* ``DELETE /_local_aws/config`` -> back to the environment defaults, answers the full config

Everything else (including moto's own ``/moto-api/reset``) goes to moto.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from . import install
from .config import CONFIG

CONTROL_PREFIX = "/_local_aws/"


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def control_response(request: Request) -> Response:
    """Answer one request to a ``/_local_aws/`` endpoint."""
    path = request.path.rstrip("/")
    if path == "/_local_aws/health" and request.method == "GET":
        return _json({"status": "ok"})
    if path == "/_local_aws/config":
        if request.method == "GET":
            return _json(CONFIG.as_dict())
        if request.method == "DELETE":
            CONFIG.reset()
            return _json(CONFIG.as_dict())
        if request.method == "POST":
            try:
                update = json.loads(request.get_data() or b"{}")
                if not isinstance(update, dict):
                    raise ValueError("the body must be a JSON object")
                return _json(CONFIG.update(**update))
            except ValueError as err:
                return _json({"error": str(err)}, status=400)
        return _json({"error": f"method {request.method} not allowed"}, status=405)
    return _json({"error": f"no such endpoint: {request.path}"}, status=404)


class LocalAwsApp:
    """WSGI app: our control endpoints, then moto's DomainDispatcherApplication."""

    def __init__(self) -> None:
        install()
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.moto_app = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            return control_response(Request(environ))(environ, start_response)
        return self.moto_app(environ, start_response)


def _request_handler(quiet: bool) -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    if not quiet:
        return MotoRequestHandler

    class QuietHandler(MotoRequestHandler):
        """Moto's request handler without the per-request access log."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return None

    return QuietHandler


class LocalAwsServer:
    """A threaded werkzeug server running the emulator; ``port=0`` picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> None:
        self.host = host
        self.port = port
        self.quiet = quiet
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("LocalAwsServer is not running; call start() first")
        return f"http://{self.host}:{self._server.server_port}"

    def start(self) -> LocalAwsServer:
        """Bind and serve in a daemon thread; returns self once the socket accepts connections."""
        if self._server is not None:
            return self
        self._server = make_server(
            self.host, self.port, LocalAwsApp(), threaded=True, request_handler=_request_handler(self.quiet)
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalAwsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
