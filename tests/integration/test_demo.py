"""The README's run command: the demo serves the app against its own PostfixAdmin and DNS."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dns.message
import dns.query
import pytest

from mailmove.config import DEMO_AUTH_DNS, DEMO_CACHE_DNS, DEMO_PFA_PORT, REPO_ROOT
from mailmove.postfixadmin import PostfixAdminClient
from mailmove.testbed.streamlit_app import free_port

pytestmark = pytest.mark.integration


def _busy(host: str, port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "busy"
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


@pytest.fixture
def demo_ports_free() -> None:
    taken = [
        f"{h}:{p}"
        for h, p, k in (
            ("127.0.0.1", DEMO_PFA_PORT, socket.SOCK_STREAM),
            (*DEMO_AUTH_DNS, socket.SOCK_DGRAM),
            (*DEMO_CACHE_DNS, socket.SOCK_DGRAM),
        )
        if _busy(h, p, k)
    ]
    if taken:
        pytest.skip(f"a demo is already running here ({', '.join(taken)})")


def start_demo(state_dir: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "mailmove.testbed.demo"),
            *("--port", str(port), "--state-dir", str(state_dir)),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "MAILMOVE_CONFIG"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C" in line:
            return proc, "".join(lines)
    proc.kill()
    pytest.fail("demo did not start:\n" + "".join(lines))


def stop_demo(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0


def test_demo_serves_app_pfa_and_dns_and_keeps_state(demo_ports_free: None, tmp_path: Path) -> None:
    port = free_port()
    proc, banner = start_demo(tmp_path, port)
    try:
        assert f"http://127.0.0.1:{port}/" in banner
        found = re.search(r"(admin@yamada-shoji\.test)\s+(\S+)", banner)
        assert found, banner
        user, password = found.groups()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as resp:
            assert resp.read() == b"ok"
        client = PostfixAdminClient(f"http://127.0.0.1:{DEMO_PFA_PORT}/")
        client.login(user, password)
        assert [d.name for d in client.list_domains()] == ["yamada-shoji.test"]
        answer = dns.query.udp(
            dns.message.make_query("yamada-shoji.test.", "MX"),
            DEMO_AUTH_DNS[0],
            port=DEMO_AUTH_DNS[1],
        )
        assert "mail.yamada-shoji.test." in answer.answer[0].to_text()
    finally:
        stop_demo(proc)
    assert not _busy("127.0.0.1", port, socket.SOCK_STREAM), "app still listening after Ctrl-C"
    assert not _busy("127.0.0.1", DEMO_PFA_PORT, socket.SOCK_STREAM)

    # Running it again reuses the state: same sign-in, same data.
    proc, banner = start_demo(tmp_path, port)
    try:
        assert password in banner
        client = PostfixAdminClient(f"http://127.0.0.1:{DEMO_PFA_PORT}/")
        client.login(user, password)
    finally:
        stop_demo(proc)
