"""A TCP proxy in front of a real service that holds every request starting with a given method for ``delay``
seconds before passing it on: a slow store, made from the real one (fault injection beside the real test)."""

from __future__ import annotations

import socket
import threading
import time


class SlowProxy:
    """Listens on 127.0.0.1 (``port``) and forwards to ``target``; chunks from the client that begin with
    ``method`` wait ``delay`` s. Use as a context manager."""

    def __init__(self, target_host: str, target_port: int, delay: float, method: bytes = b"PUT "):
        self.target = (target_host, target_port)
        self.delay = delay
        self.method = method
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> "SlowProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._closed.set()
        for sock in [self._listener, *self._sockets]:
            try:
                sock.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, slowed: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if slowed and chunk.startswith(self.method):
                    time.sleep(self.delay)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
