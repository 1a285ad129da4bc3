"""The real service in a subprocess (``python -m vault.cli.main serve``), for tests over real HTTP."""

from __future__ import annotations


import json
import os
import random
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


PORTS_PER_WORKER = 1000
FIRST_PORT = 20000
"""Test servers listen below Linux's ephemeral range (32768–60999), where no outgoing connection (to PostgreSQL, the
RGW, the TSA) can take a port between :func:`free_port` and the bind; each pytest-xdist worker has its own block."""
_next_port: list[int] = []


def free_port() -> int:
    """A port nobody listens on, from this worker's block (``PYTEST_XDIST_WORKER`` gw0, gw1 …), starting at a random
    offset so that two suites on one machine seldom meet, then in turn so that one process never reuses a port."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    block = FIRST_PORT + (int(worker) if worker.isdigit() else 0) % 12 * PORTS_PER_WORKER
    if not _next_port:
        _next_port.append(random.randrange(PORTS_PER_WORKER))
    for _ in range(PORTS_PER_WORKER):
        port = block + _next_port[0] % PORTS_PER_WORKER
        _next_port[0] += 1
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {block}–{block + PORTS_PER_WORKER - 1}")


class PortTaken(RuntimeError):
    """The server could not listen: its port was taken between :func:`free_port` and the bind."""


class ServerProcess:
    """Start with :meth:`start`, or use as a context manager; ``kill9`` simulates a crash."""

    def __init__(self, data_dir: Path, *, admin_key: str | None = "live-admin-key-" + "y" * 20,
                 env: dict[str, str] | None = None, port: int | None = None, tls_ca: str | None = None,
                 serve_args: tuple[str, ...] = ()):
        """``tls_ca``: the CA file that verifies the server's certificate when it serves HTTPS (VAULT_TLS_CERT);
        ``serve_args``: more arguments of ``vault serve`` (``--workers 2``)."""
        self.data_dir = Path(data_dir)
        self.admin_key = admin_key
        self.port = port or free_port()
        self.chosen_port = port is None  # a port of our own choosing may be taken again if another process won it
        self.verify = ssl.create_default_context(cafile=tls_ca) if tls_ca else True
        self.url = f"{'https' if tls_ca else 'http'}://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.serve_args = tuple(serve_args)
        self.process: subprocess.Popen | None = None
        self.log = self.data_dir.parent / f"server-{self.port}-{uuid.uuid4().hex[:6]}.log"

    def start(self, timeout: float = 30) -> "ServerProcess":
        """Start and wait for /health. A free port is only free until the server binds it: another process (a
        parallel test worker, another suite on the machine) can take it in between; then, if the port was ours to
        choose, start again on a new one."""
        for attempt in range(5):
            try:
                return self._start_once(timeout)
            except PortTaken:
                if not self.chosen_port or attempt == 4:
                    raise
                self.port = free_port()
                self.url = f"{self.url.split('://')[0]}://127.0.0.1:{self.port}"
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> "ServerProcess":
        env = {**os.environ, "VAULT_DATA_DIR": str(self.data_dir), "VAULT_HOST": "127.0.0.1",
               "VAULT_PORT": str(self.port), "VAULT_POLICIES_DIR": str(ROOT / "policies"), **self.extra_env}
        env.pop("VAULT_ADMIN_KEY", None)
        if self.admin_key:
            env["VAULT_ADMIN_KEY"] = self.admin_key
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._log_start = len(self.output())
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "vault.cli.main", "serve", *self.serve_args], env=env, cwd=ROOT,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        # one client for the whole wait: httpx.get builds a TLS context each time (~30 ms of CPU), which every 50 ms
        # took a third of a core from the server starting beside it
        with httpx.Client(timeout=1, verify=self.verify) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    if "Address already in use" in self.output()[self._log_start:]:
                        raise PortTaken(self.port)
                    raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output()}")
                try:
                    if http.get(self.url + "/health").status_code == 200:
                        return self
                except httpx.HTTPError:
                    time.sleep(0.05)
        self.kill9()
        raise RuntimeError(f"server did not answer /health within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill9(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        return self.process.returncode if self.process else None

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.admin_key}"},
                            timeout=30, verify=self.verify)

    def new_key(self, role: str, tenant: str, holder: str | None = None) -> str:
        body = {"role": role, "tenant": tenant}
        if role != "depositor":
            body["holder"] = holder or f"{role}-{secrets.token_hex(4)}@example.org"
        with self.client() as http:
            response = http.post("/v1/keys", json=body)
            response.raise_for_status()
            return response.json()["key"]


def deposit(http: httpx.Client, content: bytes, headers: dict | None = None, **metadata) -> httpx.Response:
    metadata.setdefault("case_ref", "LIVE-1")
    metadata.setdefault("policy", "lre-proof")
    files = {"file": ("proof.bin", content, "application/octet-stream"),
             "metadata": (None, json.dumps(metadata), "application/json")}
    return http.post("/v1/objects", files=files, headers=headers or {})


def wait_anchored(http: httpx.Client, index: int, timeout: float = 30) -> None:
    """Until the journal entry ``index`` is under an anchor (a signed checkpoint of size > ``index``, timestamped by
    the TSA), polling ``GET /v1/journal/anchors`` with ``http`` (a journal reader's client) instead of sleeping
    through the checkpoint and anchor intervals."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        anchors = http.get("/v1/journal/anchors").raise_for_status().json()["anchors"]
        if any(anchor["checkpoint_size"] > index for anchor in anchors):
            return
        time.sleep(0.1)
    raise AssertionError(f"no anchor covers journal entry {index} after {timeout} s")
