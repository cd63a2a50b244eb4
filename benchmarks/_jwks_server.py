"""A loopback HTTP server that publishes JWKS documents, so peers fetch keys without the network."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JWKSServer:
    """Serve ``{path: document}`` as JSON on 127.0.0.1 with ``Cache-Control: max-age=3600``.

    Counts the requests per path in ``hits``.  Use as a context manager.
    """

    def __init__(self, documents: Mapping[str, Any]) -> None:
        self.documents = {path: json.dumps(doc).encode() for path, doc in documents.items()}
        self.hits: dict[str, int] = dict.fromkeys(self.documents, 0)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = server.documents.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                server.hits[self.path] += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=3600")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """The loopback URL of ``path``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def __enter__(self) -> JWKSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
