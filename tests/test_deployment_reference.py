"""The reference deployment of docs/deployment.md: its systemd units pass ``systemd-analyze verify`` and its HAProxy
configuration passes ``haproxy -c``, then carries HTTPS requests round-robin to two live replicas."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.pki import make_ca, make_leaf
from tests.server_process import ROOT, ServerProcess, free_port

DEPLOY = ROOT / "deploy"
UNITS = ("vault@.service", "vault-worker.service")
CERT = "/etc/haproxy/certs/vault.pem"


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: scripts/test installs it")
        pytest.skip(f"{name} is not installed")
    return found


def test_systemd_units_verify(tmp_path):
    """``systemd-analyze verify`` in a root holding the units, systemd's own units and the installed ``vault``."""
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(DEPLOY / "systemd" / unit, root / "etc/systemd/system" / unit)
    (root / "opt/vault/bin").mkdir(parents=True)
    shutil.copy(ROOT / ".venv/bin/vault", root / "opt/vault/bin/vault")  # where the doc installs it
    verified = subprocess.run([_tool("systemd-analyze"), "verify", f"--root={root}", "vault@8001.service",
                               "vault-worker.service"], capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    (root / "opt/vault/bin/vault").unlink()  # the check is real: without the program, the unit fails it
    assert subprocess.run([_tool("systemd-analyze"), "verify", f"--root={root}", "vault@8001.service"],
                          capture_output=True, text=True, timeout=120).returncode != 0


def _haproxy_config(tmp_path: Path, bind: str | None = None, servers: list[str] | None = None) -> Path:
    """deploy/haproxy/vault.cfg with a test certificate (and, to run it, a loopback port and live replicas)."""
    ca = make_ca("vault haproxy test CA")
    leaf = make_leaf(ca, "127.0.0.1", purpose="server")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "vault.pem").write_bytes(leaf.cert_pem + leaf.key_pem)
    text = (DEPLOY / "haproxy/vault.cfg").read_text().replace(CERT, str(tmp_path / "vault.pem"))
    if bind:
        text = text.replace("bind :443 ", f"bind {bind} ")
    if servers:
        lines = [line for line in text.splitlines() if not line.strip().startswith("server api-")]
        lines += [f"    server api-{n} {address} check" for n, address in enumerate(servers)]
        text = "\n".join(lines) + "\n"
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    return config


def test_haproxy_config_checks(tmp_path):
    checked = subprocess.run([_tool("haproxy"), "-c", "-f", str(_haproxy_config(tmp_path))], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_haproxy_spreads_requests_over_two_replicas(tmp_path):
    with ServerProcess(tmp_path / "a" / "data", env={"VAULT_LOG_FORMAT": "json"}) as one, \
            ServerProcess(tmp_path / "b" / "data", env={"VAULT_LOG_FORMAT": "json"}) as two:
        port = free_port()
        config = _haproxy_config(tmp_path, f"127.0.0.1:{port}", [f"127.0.0.1:{one.port}", f"127.0.0.1:{two.port}"])
        proxy = subprocess.Popen([_tool("haproxy"), "-f", str(config)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            trusted = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
            with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=trusted,
                              headers={"Authorization": f"Bearer {one.admin_key}"}) as http:
                for _ in range(100):
                    try:
                        if http.get("/health").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.1)
                statuses = [http.get("/v1/keys").status_code for _ in range(6)]
        finally:
            proxy.terminate()
            proxy.wait(10)
        # each replica has its own database here: its admin key works on both, and each answered half the calls
        assert statuses == [200] * 6
        # an access line is written once its answer has gone out (the whole answer timed), so the last calls' lines
        # can reach the logs just after the client has them
        def logged() -> list[int]:
            return [one.output().count('"/v1/keys"'), two.output().count('"/v1/keys"')]

        deadline = time.monotonic() + 10
        while logged() != [3, 3] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert logged() == [3, 3]


REFERENCE = "## Reference deployment: several hosts"
RUN_BY = {  # each command of the section → the test that runs it, and words that test's source must hold
    "systemd-analyze verify vault@8001.service vault-worker.service":
        (test_systemd_units_verify, ('"verify"', '"vault@8001.service"', '"vault-worker.service"')),
    "haproxy -c -f /etc/haproxy/haproxy.cfg": (test_haproxy_config_checks, ('"-c"', '"-f"')),
    'vault identity accept --data-dir /var/lib/vault/8001 --reason "yearly rotation" --yes '
    '--previous-journal-key /root/journal.key.old':
        ("tests/test_identity.py", '"identity", "accept", "--data-dir"', '"--reason", "yearly rotation"', '"--yes"',
         '"--previous-journal-key"'),
    "vault doctor": ("tests/test_doctor.py", 'main(["doctor"])'),
}


def _section_commands() -> tuple[list[str], str]:
    """The lines of the ``sh`` blocks of docs/deployment.md's reference deployment, and its prose without them."""
    text = (ROOT / "docs" / "deployment.md").read_text().split(REFERENCE, 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^ *```sh\n(.*?)^ *```$", text, flags=re.S | re.M)
    lines = (line.split(" #", 1)[0].strip() for block in parts[1::2]
             for line in block.replace("\\\n", " ").splitlines())
    commands = [" ".join(line.split()) for line in lines if line]
    return commands, "".join(parts[0::2])


def test_every_command_of_the_reference_deployment_is_run_by_a_test():
    commands, prose = _section_commands()
    assert commands and set(commands) == set(RUN_BY), "a command of the doc that no test runs, or a stale entry"
    for command in commands:
        runner, *words = RUN_BY[command]
        source = inspect.getsource(runner) if callable(runner) else (ROOT / runner).read_text()
        for word in (words[0] if callable(runner) else words):
            assert word in source, f"{command!r}: {runner} does not run {word}"
    # a command with arguments left in the prose (`vault … --flag`, `systemctl start …`) would be one nothing runs;
    # a command named to say what it is (`vault doctor`) is no invocation
    inline = re.findall(r"`((?:vault|systemctl|haproxy|systemd-analyze|pg_\w+|scripts/\w+) [^`]*)`", prose)
    invocations = [span for span in inline if any(t[0] in "-/" or "=" in t or t.isupper() for t in span.split()[1:])
                   or span.startswith("systemctl")]
    assert invocations == [], invocations
