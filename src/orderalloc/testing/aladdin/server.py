"""The loopback server: a threaded HTTP server on 127.0.0.1 in front of an `AladdinMockHandler`."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from .handler import AladdinMockHandler

__all__ = ["LoopbackServer", "serve"]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.app.handle(
            self.command, urllib.parse.unquote(url.path), query, headers, body
        )
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    do_GET = _serve  # noqa: N815  # http.server dispatches on these names
    do_POST = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # the base signature
        """Stay quiet: the handler keeps its own records."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: AladdinMockHandler


@attrs.define
class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 (an ephemeral port) in front of a handler.

    Attributes:
        handler: The `AladdinMockHandler` answering.
        url: ``http://127.0.0.1:PORT``.
    """

    handler: AladdinMockHandler
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give `AladdinConfig.host`."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LoopbackServer:
        """Bind and serve in a daemon thread."""
        server = _Server(("127.0.0.1", 0), _RequestHandler)
        server.app = self.handler
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None


@contextmanager
def serve(handler: AladdinMockHandler) -> Iterator[LoopbackServer]:
    """Serve *handler* on 127.0.0.1 for the duration of the ``with`` block."""
    server = LoopbackServer(handler).start()
    try:
        yield server
    finally:
        server.stop()
