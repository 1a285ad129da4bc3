"""A real RFC 3161 Time-Stamp Authority for the test suite: OpenSSL's ``openssl ts -reply`` behind a tiny HTTP front.

Standalone (standard library only, plus the ``openssl`` 3.x command-line tool); ``scripts/lib/tsa.sh`` runs it on
127.0.0.1 for ``scripts/test``. Two subcommands:

``pki DIR``
    Creates a throwaway test PKI in DIR: an EC P-256 root CA (``root.pem``, ``root.key``, 20 years), a TSA
    certificate issued by it (``tsa.pem``, ``tsa.key``, 5 years; ``extendedKeyUsage=critical,timeStamping`` as
    RFC 3161 §2.3 requires), the serial-number file ``serial`` and the ``openssl ts`` configuration ``tsa.cnf``.
    Does nothing when DIR/tsa.pem already exists (``tsa.pem`` is written last, so a half-made PKI is redone).

``serve DIR --port PORT [--host 127.0.0.1] [--ready-file FILE]``
    Answers time-stamp requests over HTTP as RFC 3161 §3.4 ("Time-Stamp Protocol via HTTP") describes: a
    ``POST`` (to any path) whose body is a DER ``TimeStampReq`` with ``Content-Type: application/timestamp-query``
    gets ``200`` with a DER ``TimeStampResp`` as ``application/timestamp-reply``. Each request runs
    ``openssl ts -reply -config DIR/tsa.cnf``; the calls are serialized because they share the serial file.
    A request OpenSSL cannot answer at all gets ``500`` with OpenSSL's error text; a request it can parse but
    refuses (say an unsupported hash algorithm) gets ``200`` with a TimeStampResp whose PKIStatus is rejection,
    as the RFC wants. Other content types get ``415``. ``GET /health`` answers ``ok``.
    If the environment variable ``TSA_BASIC_AUTH`` is ``user:pass``, every request must carry those HTTP Basic
    credentials (``401`` otherwise). ``--port 0`` binds an ephemeral port; once bound, the actual port number is
    written to ``--ready-file`` (to a temporary name, then renamed) so a shell script can wait for it.
    Per-request logging is off; OpenSSL failures are reported on stderr.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

OPENSSL = os.environ.get("OPENSSL", "openssl")
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_QUERY = 64 * 1024  # a TimeStampReq is a few hundred bytes; anything this large is not one
OPENSSL_TIMEOUT = 30

ROOT_DAYS = 7305  # 20 years
TSA_DAYS = 1826  # 5 years

# Certificate extensions for the test PKI (openssl x509v3_config syntax). The [req] section only serves the CSR and
# self-signed root commands; subjects come from -subj.
PKI_CNF = """\
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused

[v3_root]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[v3_tsa]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

TSA_CNF = """\
# openssl ts -reply configuration for the vault test TSA (made by tests/interop/openssl_tsa.py pki).
[tsa]
default_tsa = tsa_config

[tsa_config]
dir = {dir}
serial = $dir/serial
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
certs = $dir/tsa.pem
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_alg = sha256
crypto_device = builtin
"""


def _die(message: str) -> None:
    print(f"openssl_tsa: {message}", file=sys.stderr)
    raise SystemExit(1)


def _openssl(*args: str) -> None:
    try:
        done = subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=OPENSSL_TIMEOUT)
    except FileNotFoundError:
        _die(f"{OPENSSL!r} not found; install OpenSSL 3 (Debian package openssl)")
    if done.returncode != 0:
        _die(f"openssl {args[0]} failed (exit {done.returncode}):\n{done.stderr.strip()}")


def _cnf_value(text: str) -> str:
    """Escape a value for an OpenSSL config file ($ expands variables, # starts a comment, quotes are eaten)."""
    return "".join("\\" + c if c in "\\$#\"'" else c for c in text)


def _ec_key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-pkeyopt", "ec_param_enc:named_curve", "-out", str(path))
    path.chmod(0o600)


def make_pki(directory: Path) -> None:
    directory = directory.resolve()
    if (directory / "tsa.pem").exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="openssl-tsa-pki.") as scratch:
        cnf = Path(scratch) / "pki.cnf"
        cnf.write_text(PKI_CNF)
        csr = Path(scratch) / "tsa.csr"
        root_pem, root_key = directory / "root.pem", directory / "root.key"
        tsa_key, tsa_tmp = directory / "tsa.key", directory / "tsa.pem.tmp"

        _ec_key(root_key)
        _openssl("req", "-config", str(cnf), "-new", "-x509", "-key", str(root_key), "-sha256",
                 "-subj", "/CN=vault test TSA root", "-days", str(ROOT_DAYS),
                 "-set_serial", "0x" + secrets.token_hex(16), "-extensions", "v3_root", "-out", str(root_pem))

        _ec_key(tsa_key)
        _openssl("req", "-config", str(cnf), "-new", "-key", str(tsa_key), "-sha256",
                 "-subj", "/CN=vault test TSA", "-out", str(csr))
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(root_pem), "-CAkey", str(root_key), "-sha256",
                 "-days", str(TSA_DAYS), "-set_serial", "0x" + secrets.token_hex(16),
                 "-extfile", str(cnf), "-extensions", "v3_tsa", "-out", str(tsa_tmp))

    (directory / "serial").write_text("01\n")
    (directory / "tsa.cnf").write_text(TSA_CNF.format(dir=_cnf_value(str(directory))))
    os.replace(tsa_tmp, directory / "tsa.pem")


class TSAServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], directory: Path, basic_auth: str | None) -> None:
        super().__init__(address, TSAHandler)
        self.directory = directory
        self.config = directory / "tsa.cnf"
        self.lock = threading.Lock()  # openssl ts -reply reads and rewrites the shared serial file
        self.basic_auth = basic_auth

    def stamp(self, query: bytes) -> tuple[bytes | None, str]:
        """Run ``openssl ts -reply`` on a DER TimeStampReq: (DER TimeStampResp, "") or (None, error text)."""
        with tempfile.TemporaryDirectory(prefix="openssl-tsa.") as scratch:
            req, resp = Path(scratch) / "query.tsq", Path(scratch) / "reply.tsr"
            req.write_bytes(query)
            try:
                with self.lock:
                    done = subprocess.run(
                        [OPENSSL, "ts", "-reply", "-config", str(self.config), "-queryfile", str(req),
                         "-out", str(resp)],
                        capture_output=True, timeout=OPENSSL_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired) as error:
                return None, f"running openssl failed: {error}"
            stderr = done.stderr.decode("utf-8", "replace").strip()
            if done.returncode != 0 or not resp.is_file() or resp.stat().st_size == 0:
                return None, stderr or f"openssl ts -reply exited with {done.returncode} and no reply"
            return resp.read_bytes(), ""


class TSAHandler(BaseHTTPRequestHandler):
    server: TSAServer
    protocol_version = "HTTP/1.1"
    server_version = "vault-test-tsa/1"
    sys_version = ""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet: no per-request lines
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
              headers: dict[str, str] | None = None, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:  # the request body was not read: the connection cannot carry another request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorized(self) -> bool:
        expected = self.server.basic_auth
        if expected is None:
            return True
        scheme, _, credentials = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, expected.encode("utf-8"))

    def _check_auth(self) -> bool:
        if self._authorized():
            return True
        self._send(401, b"authentication required\n", headers={"WWW-Authenticate": 'Basic realm="vault test TSA"'},
                   close=True)
        return False

    def do_GET(self) -> None:
        if not self._check_auth():
            return
        if self.path.split("?", 1)[0] == "/health":
            self._send(200, b"ok\n")
        else:
            self._send(404, b"not found: POST a TimeStampReq, or GET /health\n")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if not self._check_auth():
            return
        media_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if media_type != QUERY_TYPE:
            self._send(415, f"Content-Type must be {QUERY_TYPE} (RFC 3161 section 3.4)\n".encode(), close=True)
            return
        if self.headers.get("Transfer-Encoding"):
            self._send(411, b"send the TimeStampReq with a Content-Length\n", close=True)
            return
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            self._send(411, b"Content-Length required\n", close=True)
            return
        if length <= 0 or length > MAX_QUERY:
            self._send(413 if length > 0 else 400, b"not a TimeStampReq (size)\n", close=True)
            return
        query = self.rfile.read(length)
        if len(query) != length:
            self.close_connection = True
            return
        reply, error = self.server.stamp(query)
        if reply is None:
            print(f"openssl_tsa: openssl ts -reply failed: {error}", file=sys.stderr, flush=True)
            self._send(500, (error + "\n").encode("utf-8"))
            return
        self._send(200, reply, REPLY_TYPE)


def _write_ready_file(path: Path, port: int) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)


def serve(directory: Path, host: str, port: int, ready_file: Path | None) -> None:
    directory = directory.resolve()
    if not (directory / "tsa.cnf").is_file() or not (directory / "tsa.pem").is_file():
        _die(f"no test PKI in {directory}: run 'pki {directory}' first")
    basic_auth = os.environ.get("TSA_BASIC_AUTH") or None
    if basic_auth is not None and ":" not in basic_auth:
        _die("TSA_BASIC_AUTH must be user:pass")

    def terminate(signum, frame):  # let SIGTERM unwind like Ctrl-C so the socket is closed
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    server = TSAServer((host, port), directory, basic_auth)
    try:
        bound_port = server.server_address[1]
        if ready_file is not None:
            _write_ready_file(ready_file, bound_port)
        print(f"openssl_tsa: serving {directory} on http://{host}:{bound_port}/"
              + (" (Basic auth)" if basic_auth else ""), file=sys.stderr, flush=True)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="RFC 3161 test TSA: openssl ts -reply behind HTTP (RFC 3161 §3.4)")
    commands = parser.add_subparsers(dest="command", required=True)
    pki = commands.add_parser("pki", help="create the test PKI and tsa.cnf in DIR (no-op if DIR/tsa.pem exists)")
    pki.add_argument("dir", type=Path)
    srv = commands.add_parser("serve", help="serve time-stamp requests over HTTP with the PKI in DIR")
    srv.add_argument("dir", type=Path)
    srv.add_argument("--port", type=int, required=True, help="TCP port; 0 for an ephemeral one")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--ready-file", type=Path, help="write the bound port number here once listening")
    args = parser.parse_args(argv)
    if args.command == "pki":
        make_pki(args.dir)
    else:
        serve(args.dir, args.host, args.port, args.ready_file)


if __name__ == "__main__":
    main()
