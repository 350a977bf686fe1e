"""A loopback HTTP proxy in front of the live server that loses responses on purpose.

Jobs reach the console through it (SM_PUBLIC_URL points here). Every request is forwarded as it
came; for the requests that `drop` selects, the console's answer is read and thrown away and the
connection is closed without a byte: the job's report was applied, but the job never hears so,
exactly as when a response is lost on the network or a proxy times out.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    dropped: bool


@dataclass
class LossyProxy:
    target: str
    drop: Callable[[str, str, int], bool]  # (method, path, how many such requests before)
    exchanges: list[Exchange] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> LossyProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    before = sum(
                        1
                        for e in proxy.exchanges
                        if (e.method, e.path) == (self.command, self.path)
                    )
                target = urlsplit(proxy.target)
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
                upstream.close()
                dropped = proxy.drop(self.command, self.path, before)
                with proxy._lock:
                    proxy.exchanges.append(
                        Exchange(self.command, self.path, response.status, dropped)
                    )
                if dropped:
                    self.close_connection = True
                    return
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def seen(self, method: str, fragment: str) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.method == method and fragment in e.path]
