"""The app itself as a process: ``streamlit run app.py`` on loopback, ready when healthy.

Shared by the demo command and the browser tests so both start the app the same way.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from mailmove.config import REPO_ROOT
from mailmove.errors import MailmoveError
from mailmove.testbed._os import free_port, stop_group

_READY_TIMEOUT = 60.0


class AppNotReady(MailmoveError):
    """Streamlit did not answer ``/_stcore/health`` with ``ok`` in time."""


class StreamlitApp:
    """One ``streamlit run`` process with its own configuration file and log."""

    def __init__(
        self,
        log_path: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}_stcore/health", timeout=2) as resp:  # noqa: S310
                return bool(resp.read().strip() == b"ok")
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO_ROOT / "app.py"),
            "--server.address",
            self.host,
            "--server.port",
            str(self.port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        atexit.register(self.stop)
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self.healthy():
                return self
            time.sleep(0.2)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise AppNotReady(f"streamlit did not become healthy on {self.url}:\n{tail}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        stop_group(process, timeout=10)

    def wait(self) -> int:
        """Block until the app exits (the demo's foreground)."""
        return self._process.wait() if self._process is not None else 0

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
