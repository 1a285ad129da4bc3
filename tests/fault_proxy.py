"""A reverse proxy in front of a live server that injects faults on command (tests only): answer 503/507 with a
Retry-After, drop the connection, or corrupt a response body. Everything else is forwarded unchanged."""

from __future__ import annotations

import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class FaultProxy:
    """``faults``: a queue of (method, path prefix, fault) consumed by the first matching request; fault is
    ``503``/``507`` (answered by the proxy, nothing forwarded), ``"drop"`` (connection closed, nothing forwarded)
    or ``"corrupt"`` (forwarded, the answer's first byte flipped). ``seen`` lists every (method, path)."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.faults: deque[tuple[str, str, object]] = deque()
        self.seen: list[tuple[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_one(self):
                proxy.seen.append((self.command, self.path))
                fault = proxy._take(self.command, self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault in (503, 507):
                    payload = b'{"type":"urn:vault:problem:injected","title":"Injected","status":%d,"detail":"x"}' % fault
                    self.send_response(fault)
                    self.send_header("Content-Type", "application/problem+json")
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = httpx.request(self.command, proxy.upstream + self.path, headers=headers, content=body,
                                       timeout=60)
                content = answer.content
                if fault == "corrupt" and content:
                    content = bytes([content[0] ^ 0xFF]) + content[1:]
                self.send_response(answer.status_code)
                for name, value in answer.headers.multi_items():
                    if name.lower() not in HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = handle_one

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _take(self, method: str, path: str):
        for fault in list(self.faults):
            if fault[0] == method and path.startswith(fault[1]):
                self.faults.remove(fault)
                return fault[2]
        return None

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
