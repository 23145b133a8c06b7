"""A real POP3 server playing the customer's *old* server: Dovecot on 127.0.0.x.

Why real Dovecot: what users and fetchmail meet on the old host is a real POP3
server (UIDL, deletion on QUIT, login failures), and fetchmail ≥ 6.4 reacts to the
server's capabilities (it tries STARTTLS on its own). A fake would only encode guesses.

Dovecot runs in the foreground from a generated config under ``base_dir``; nothing
in /etc/dovecot is read and no system service is started (Debian's policy-rc.d keeps
the packaged one down). Users live in passwd-files (one per user) with plain passwords, mail in
``mail/<domain>/<local>/`` (Maildir), all owned by one uid: the Debian ``dovecot``
user when we run as root (Dovecot refuses uid 0 for mail), else our own. As root, the
passwd-files, Maildirs and sockets live in a ``/tmp/mm-pop3-*`` directory instead of
``base_dir``, because Dovecot's unprivileged processes cannot traverse pytest's 0700
temporary directories; it is removed at interpreter exit.
Plain POP3 only (``ssl = no``): production old servers are reached on 995 with TLS.

Everything is stopped by ``stop()``, by leaving a ``with`` block, or at interpreter
exit (safety net). Debian packages: ``dovecot-pop3d`` (pulls ``dovecot-core``).
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import mailbox
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Self

from mailmove.testbed._os import free_port, stop_group

DOVECOT = "/usr/sbin/dovecot"
READY_TIMEOUT = 10.0
_MAX_RUN_DIR = 60  # Dovecot puts unix sockets under base_dir; sun_path holds 108 bytes

Message = bytes | str | EmailMessage

_running: set[OldPop3Server] = set()
_running_lock = threading.Lock()
_temp_dirs: list[Path] = []  # data dirs made outside base_dir; removed at exit


class Pop3TestbedError(RuntimeError):
    """Dovecot did not start, answer or stop; the message carries the log tail."""


def _mail_owner() -> tuple[int, int, str, str]:
    """(uid, gid, internal user, login user) for Dovecot's processes and the Maildirs."""
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam("dovecot")
            pwd.getpwnam("dovenull")
        except KeyError:
            raise Pop3TestbedError(
                "running as root needs the 'dovecot' and 'dovenull' users "
                "(created by Debian's dovecot-core package)"
            ) from None
        return entry.pw_uid, entry.pw_gid, "dovecot", "dovenull"
    me = getpass.getuser()
    return os.getuid(), os.getgid(), me, me


class OldPop3Server:
    """Dovecot POP3 with its own users and Maildirs; ``with OldPop3Server(dir) as old: ...``."""

    def __init__(
        self,
        base_dir: Path | str,
        *,
        address: str = "127.0.0.21",
        port: int | None = None,
        dovecot: str = DOVECOT,
    ) -> None:
        if not address.startswith("127."):
            raise ValueError(f"the test bed binds to 127.0.0.x only, not {address}")
        self.base_dir = Path(base_dir).resolve()
        self.address = address
        self.port = port if port is not None else free_port(address)
        self.dovecot = dovecot
        self._uid, self._gid, self._internal, self._login = _mail_owner()
        self.data_dir = self._pick_data_dir()
        self.mail_dir = self.data_dir / "mail"
        self.users_dir = self.data_dir / "users"
        self.conf_path = self.base_dir / "dovecot.conf"
        self.log_path = self.base_dir / "dovecot.log"
        self._run_dir = self.data_dir / "run"
        self._users: dict[str, str] = {}
        self._proc: subprocess.Popen[bytes] | None = None

    def _pick_data_dir(self) -> Path:
        if os.geteuid() != 0 and len(str(self.base_dir / "run")) <= _MAX_RUN_DIR:
            return self.base_dir
        data = Path(tempfile.mkdtemp(prefix="mm-pop3-"))
        data.chmod(0o755)  # dovecot/dovenull must reach run/ and mail/; passwd stays 0640
        _temp_dirs.append(data)
        return data

    # -- users and mail ------------------------------------------------------------------

    def maildir(self, address: str) -> Path:
        local, _, domain = address.lower().partition("@")
        return self.mail_dir / domain / local

    def add_user(self, address: str, password: str, messages: Iterable[Message] = ()) -> Path:
        """Create (or reset the password of) a user and put ``messages`` in their inbox."""
        address = address.lower()
        if "@" not in address or any(c in address for c in ":/\n"):
            raise ValueError(f"not a test address: {address!r}")
        if any(c in password for c in ":\n\r"):
            raise ValueError("passwd-file passwords cannot contain ':' or line breaks")
        self._users[address] = password
        self._write_passwd()
        self.add_messages(address, messages)
        return self.maildir(address)

    def add_messages(self, address: str, messages: Iterable[Message]) -> None:
        """Deliver messages into the user's Maildir (as the old host's MTA would)."""
        path = self.maildir(address)
        path.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.Maildir(path, create=True)
        for message in messages:
            if isinstance(message, EmailMessage):
                data = message.as_bytes()
            elif isinstance(message, str):
                data = message.encode("utf-8")
            else:
                data = message
            box.add(data)
        self._chown(self.mail_dir)

    def messages(self, address: str) -> list[bytes]:
        """What is still on the old server for ``address`` (new and seen), oldest first."""
        path = self.maildir(address)
        if not path.is_dir():
            return []
        files = [p for sub in ("new", "cur") for p in (path / sub).iterdir() if p.is_file()]
        return [p.read_bytes() for p in sorted(files, key=lambda p: p.name)]

    def _write_passwd(self) -> None:
        # One passwd-file per user (path ``users/%Lu``): Dovecot stats a cached file at most
        # once a second, so a user added to a shared file right after a login could stay
        # unknown for up to a second. A new user's file is a new path, read on first use.
        self.users_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.users_dir, 0, self._gid)
            os.chmod(self.users_dir, 0o750)  # noqa: S103 (group dovecot reads, others do not)
        for user, pw in self._users.items():
            path = self.users_dir / user
            tmp = path.with_name(f".{user}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"{user}:{{PLAIN}}{pw}\n")
            if os.geteuid() == 0:
                os.chown(tmp, 0, self._gid)
                os.chmod(tmp, 0o640)
            os.replace(tmp, path)

    def _chown(self, root: Path) -> None:
        if os.geteuid() != 0:
            return
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.chown(name, self._uid, self._gid)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _write_conf(self) -> None:
        conf = f"""\
# Generated by mailmove.testbed.pop3; rewritten on every start.
protocols = pop3
listen = {self.address}
base_dir = {self._run_dir}
state_dir = {self.data_dir / "state"}
instance_name = mailmove-oldpop3-{self.port}
log_path = {self.log_path}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {self._internal}
default_internal_group = {self._internal}
default_login_user = {self._login}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{self.mail_dir}/%d/%n
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {self.users_dir}/%Lu
}}
userdb {{
  driver = static
  args = uid={self._uid} gid={self._gid} home={self.mail_dir}/%d/%n
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {self.address}
    port = {self.port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""
        self.conf_path.write_text(conf, encoding="utf-8")

    def start(self) -> Self:
        """Start Dovecot and return once it greets POP3 clients."""
        if self.running:
            return self
        if not Path(self.dovecot).exists():
            raise Pop3TestbedError(f"{self.dovecot} not found: install Debian's dovecot-pop3d")
        for path in (self.base_dir, self.mail_dir, self.data_dir / "state", self._run_dir):
            path.mkdir(parents=True, exist_ok=True)
        self._write_passwd()
        self._chown(self.mail_dir)
        self._write_conf()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [self.dovecot, "-F", "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C goes to pytest, which stops us cleanly
            )
        with _running_lock:
            _running.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.address, self.port), timeout=0.5) as sock:
                return sock.recv(64).startswith(b"+OK")
        except OSError:
            return False

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise Pop3TestbedError(
                    f"dovecot exited ({self._proc.returncode}) on start:\n{self.log_tail()}"
                )
            if self._greets():
                return
            time.sleep(0.05)
        raise Pop3TestbedError(
            f"dovecot on {self.address}:{self.port} did not greet in time:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop Dovecot (TERM, then KILL) and wait, so its port and pid file are free."""
        proc, self._proc = self._proc, None
        with _running_lock:
            _running.discard(self)
        if proc is not None:
            stop_group(proc)  # workers share the group: none is left behind

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<OldPop3Server {self.address}:{self.port} {state}>"


@atexit.register
def _stop_all() -> None:
    """Safety net: a test run that forgot ``stop()`` must not leave Dovecot behind."""
    with _running_lock:
        servers = list(_running)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()
    for path in _temp_dirs:
        shutil.rmtree(path, ignore_errors=True)
