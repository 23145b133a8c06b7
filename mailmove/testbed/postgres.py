"""A throwaway PostgreSQL server on loopback, so the store is tested on the real thing.

Several app replicas share one PostgreSQL in production; the store's code must
behave the same there as on SQLite. Debian's ``postgresql`` package gives the
binaries; we run our own cluster in a temporary directory (``initdb`` +
``postgres``), never the system one. PostgreSQL refuses to run as root, so as
root the cluster runs as the ``postgres`` system user.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from mailmove.errors import MailmoveError
from mailmove.testbed._os import free_port, stop_group

_READY_TIMEOUT = 30.0


class PostgresUnavailable(MailmoveError):
    """No PostgreSQL server binaries, or the cluster did not start."""


def _bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), reverse=True)
    if not candidates:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found: apt-get install postgresql"
        )
    return candidates[0].parent


class PostgresServer:
    """One cluster in ``base_dir``, database ``mailmove``, trust auth on 127.0.0.1 only."""

    def __init__(self, base_dir: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.base_dir = base_dir.resolve()
        self.host = host
        self.port = port or free_port(host)
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "postgres.log"
        self._bin = _bin_dir()
        self._user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for the ``mailmove`` database."""
        return f"postgresql+psycopg://{self._user}@{self.host}:{self.port}/mailmove"

    def _as_owner(self, *command: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", self._user, "--", *command]
        return list(command)

    def start(self) -> Self:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.base_dir, self._user)
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                self._as_owner(
                    str(self._bin / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-A",
                    "trust",
                    "-U",
                    self._user,
                    "-E",
                    "UTF8",
                    "--no-locale",
                ),
                check=True,
                capture_output=True,
            )
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self._as_owner(
                str(self._bin / "postgres"),
                "-D",
                str(self.data_dir),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-k",
                str(self.base_dir),
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        atexit.register(self.stop)
        self._wait_ready()
        subprocess.run(
            self._as_owner(
                str(self._bin / "createdb"), "-h", self.host, "-p", str(self.port), "mailmove"
            ),
            capture_output=True,
            check=False,  # exists already on a restart
        )
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                break
            ready = subprocess.run(
                [str(self._bin / "pg_isready"), "-h", self.host, "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-1500:]
        raise PostgresUnavailable(f"PostgreSQL did not start on {self.host}:{self.port}:\n{tail}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        stop_group(process, signal.SIGINT, timeout=15)  # SIGINT: PostgreSQL's "fast" shutdown

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
