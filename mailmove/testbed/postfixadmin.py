"""Real, isolated PostfixAdmin 3.3.13 instances on 127.0.0.1 for tests and the demo.

Why real ones: PFA's rules (CSRF tokens, 302-to-login, limits, localized CSV) are
what the client has to cope with, and a fake would only encode our guesses.

Each instance owns a copy of the PHP tree (the Debian package, unpacked with
``dpkg -x``, never installed), its SQLite file, ``templates_c``, session directory
and port, so any number can run side by side and nothing in ``/etc`` is touched.
Layout of ``base_dir``::

    tree/               copy of usr/share/postfixadmin (+ config.local.php)
    postfixadmin.db     the database; kept across prepare() so a demo keeps its data
    sessions/           PHP session files (delete them to expire every login)
    server.log          output of ``php -S``
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from mailmove.errors import MailmoveError
from mailmove.testbed._os import free_port, stop_group

__all__ = [
    "CliError",
    "PostfixAdminInstance",
    "TestbedError",
    "TreeUnavailable",
    "ensure_tree",
    "free_port",
]

TREE_SUBPATH = Path("usr/share/postfixadmin")
STOCK_CONFIG_SUBPATH = Path("etc/postfixadmin/config.inc.php")
# A port nothing listens on, so welcome mails fail at once with ECONNREFUSED instead of
# reaching a real MTA on :25 or hanging.
CLOSED_SMTP_PORT = 1
_READY_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_PASSWORD_OPTIONS = frozenset({"--password", "--password2"})

PhpValue = str | int | float | bool | None | Sequence["PhpValue"] | Mapping[str, "PhpValue"]


class TestbedError(MailmoveError):
    """The local PostfixAdmin test bed could not be set up or driven."""

    __test__ = False  # not a pytest test class despite the name


class TreeUnavailable(TestbedError):
    """The postfixadmin .deb could not be fetched or unpacked."""


class CliError(TestbedError):
    """postfixadmin-cli exited non-zero; ``result`` holds the (unredacted) process."""

    def __init__(self, message: str, result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(message)
        self.result = result


def ensure_tree(cache_dir: Path) -> Path:
    """Unpack the postfixadmin .deb once per cache dir and return the PHP tree.

    Uses ``apt-get download`` + ``dpkg -x`` so no maintainer script runs and no
    apache is pulled in. A lock file serialises concurrent callers (pytest-xdist,
    a demo started twice) and the unpacked tree appears by an atomic rename, so a
    reader never sees half a tree.
    """
    cache_dir = Path(cache_dir).resolve()
    root = cache_dir / "postfixadmin"
    tree = root / TREE_SUBPATH
    if tree.is_dir():
        return tree
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / "postfixadmin.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tree.is_dir():
            return tree
        if root.exists():  # a leftover from an interrupted run by other means
            shutil.rmtree(root)
        with tempfile.TemporaryDirectory(prefix="pfa-deb-", dir=cache_dir) as tmp:
            tmp_path = Path(tmp)
            download = _run_tool(["apt-get", "download", "postfixadmin"], cwd=tmp_path)
            debs = sorted(tmp_path.glob("postfixadmin_*.deb"))
            if download.returncode != 0 or not debs:
                reason = _last_line(download.stderr) or "no .deb was written"
                raise TreeUnavailable(
                    f"'apt-get download postfixadmin' failed ({reason}); "
                    "run 'apt-get update' and check network access to the Debian mirror"
                )
            staging = tmp_path / "root"
            unpack = _run_tool(["dpkg", "-x", str(debs[-1]), str(staging)], cwd=tmp_path)
            if unpack.returncode != 0 or not (staging / TREE_SUBPATH).is_dir():
                reason = _last_line(unpack.stderr) or "tree missing after unpacking"
                raise TreeUnavailable(f"'dpkg -x' of {debs[-1].name} failed ({reason})")
            staging.rename(root)
    return tree


def php_literal(value: PhpValue) -> str:
    """Render a Python value as a PHP literal for config.local.php."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, Mapping):
        items = ", ".join(f"{php_literal(k)} => {php_literal(v)}" for k, v in value.items())
        return f"array({items})"
    return "array(" + ", ".join(php_literal(v) for v in value) + ")"


@dataclass(eq=False)  # identity semantics: an instance owns a process
class PostfixAdminInstance:
    """One PostfixAdmin served by ``php -S`` from its own directory.

    Usable as a context manager (prepare + start, then stop). ``prepare()`` only
    creates what is missing, so pointing a new object at an existing ``base_dir``
    restarts a demo with its data. Superadmin credentials exist only for the test
    bed; they are never logged.
    """

    base_dir: Path
    cache_dir: Path
    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    superadmin: str = "admin@example.test"
    superadmin_password: str = field(default="AdminPass123", repr=False)
    setup_password: str = field(default="SetupPass123", repr=False)
    admin_email: str = "postmaster@example.test"
    conf: Mapping[str, PhpValue] = field(default_factory=dict)
    workers: int = 2
    php: str = "php"
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _auto_port: bool = field(default=False, init=False, repr=False)
    _log_offset: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir).resolve()
        self.cache_dir = Path(self.cache_dir).resolve()
        if self.port == 0:
            self._auto_port = True
            self.port = free_port(self.host)

    # -- paths -------------------------------------------------------------------------

    @property
    def tree(self) -> Path:
        return self.base_dir / "tree"

    @property
    def db_path(self) -> Path:
        return self.base_dir / "postfixadmin.db"

    @property
    def sessions_dir(self) -> Path:
        return self.base_dir / "sessions"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- setup -------------------------------------------------------------------------

    def prepare(self) -> Self:
        """Create tree, config, schema and superadmin; keep whatever already exists."""
        source = ensure_tree(self.cache_dir)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if not self.tree.is_dir():
            self._copy_tree(source)
        self.sessions_dir.mkdir(exist_ok=True)
        (self.tree / "templates_c").mkdir(exist_ok=True)
        self._write_config()
        self.db_path.touch()  # PFA refuses a missing SQLite file
        self._upgrade_schema()
        # Only the first prepare() creates the superadmin; later ones (a restarted demo)
        # keep the data, including a superadmin whose password was changed since.
        marker = self.base_dir / ".superadmin-created"
        if not marker.exists():
            try:
                self.add_admin(self.superadmin, self.superadmin_password, [], superadmin=True)
            except CliError as err:
                if "already exists" not in str(err):  # an interrupted earlier prepare()
                    raise
            marker.touch()
        return self

    def _copy_tree(self, source: Path) -> None:
        staging = self.base_dir / "tree.partial"
        if staging.exists():
            shutil.rmtree(staging)
        shutil.copytree(source, staging, symlinks=True, copy_function=_link_or_copy)
        # Replace the three absolute links into /etc and /var (see the reference, §2b).
        for name in ("config.inc.php", "config.local.php", "templates_c"):
            (staging / name).unlink(missing_ok=True)
        stock = source.parents[len(TREE_SUBPATH.parts) - 1] / STOCK_CONFIG_SUBPATH
        shutil.copyfile(stock, staging / "config.inc.php")
        (staging / "dbconfig.inc.php").write_text(
            "<?php\n$dbtype = 'sqlite';\n$dbserver = '';\n$dbuser = '';\n"
            "$dbpass = '';\n$dbname = '';\n$dbport = '';\n"
        )
        (staging / "templates_c").mkdir()
        staging.rename(self.tree)

    def _write_config(self) -> None:
        settings: dict[str, PhpValue] = {
            "configured": True,
            "database_type": "sqlite",
            "database_name": str(self.db_path),
            "setup_password": self._setup_password_hash(),
            "encrypt": "php_crypt:SHA512",
            "emailcheck_resolve_domain": "NO",
            "default_aliases": {},
            "admin_email": self.admin_email,
            "smtp_server": "127.0.0.1",
            "smtp_port": str(CLOSED_SMTP_PORT),
            "page_size": "500",
        }
        settings.update(self.conf)
        lines = ["<?php", "// Written by mailmove.testbed.postfixadmin; rewritten on prepare()."]
        lines += [f"$CONF[{php_literal(k)}] = {php_literal(v)};" for k, v in settings.items()]
        target = self.tree / "config.local.php"
        partial = target.with_suffix(".partial")
        partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
        partial.replace(target)

    def _setup_password_hash(self) -> str:
        # Reuse the existing hash: a new salt every prepare() would churn the file for nothing.
        target = self.tree / "config.local.php"
        if target.exists():
            for line in target.read_text(encoding="utf-8").splitlines():
                if line.startswith("$CONF['setup_password'] = '$2y$"):
                    candidate = line.split("'")[3]
                    if self._php_verify(self.setup_password, candidate):
                        return candidate
        # The password travels via the environment so it never shows up in `ps`.
        proc = subprocess.run(
            [
                self.php,
                "-r",
                # cost 8: setup.php only needs a valid bcrypt hash; this is a test bed.
                'echo password_hash(getenv("PFA_PW"), PASSWORD_BCRYPT, ["cost" => 8]);',
            ],
            env={**os.environ, "PFA_PW": self.setup_password},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0 or not proc.stdout.startswith("$2y$"):
            raise TestbedError(f"php could not hash the setup password: {_last_line(proc.stderr)}")
        return proc.stdout

    def _php_verify(self, password: str, hashed: str) -> bool:
        proc = subprocess.run(
            [self.php, "-r", 'exit(password_verify(getenv("PFA_PW"), getenv("PFA_H")) ? 0 : 1);'],
            env={**os.environ, "PFA_PW": password, "PFA_H": hashed},
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return proc.returncode == 0

    def _upgrade_schema(self) -> None:
        proc = self._php_script(self.tree / "public" / "upgrade.php")
        if proc.returncode != 0 or (
            "target version" not in proc.stdout and "Database is up to date" not in proc.stdout
        ):
            detail = _last_line(proc.stderr) or _last_line(proc.stdout) or f"rc={proc.returncode}"
            raise TestbedError(f"upgrade.php failed for {self.base_dir}: {detail}")

    def _php_script(self, script: Path, *args: str) -> subprocess.CompletedProcess[str]:
        # cwd = base_dir: config.inc.php's require_once('dbconfig.inc.php') searches the
        # current directory first, which must not pick up somebody else's file.
        return subprocess.run(
            [self.php, "-q", "-d", f"session.save_path={self.sessions_dir}", str(script), *args],
            cwd=self.base_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )

    # -- server ------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve the instance and wait until the login page renders."""
        if self.running:
            return self
        if not (self.tree / "config.local.php").exists():
            self.prepare()
        for attempt in range(3):
            self._spawn()
            try:
                self._wait_ready()
                return self
            except TestbedError:
                log = self._log_tail()
                self.stop()
                lost_port = "Address already in use" in log or "Failed to listen" in log
                if self._auto_port and lost_port and attempt < 2:
                    self.port = free_port(self.host)  # somebody grabbed our port; retry
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self) -> None:
        env = dict(os.environ)
        if self.workers > 1:
            env["PHP_CLI_SERVER_WORKERS"] = str(self.workers)
        else:
            env.pop("PHP_CLI_SERVER_WORKERS", None)
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self._process = subprocess.Popen(
                [
                    self.php,
                    "-d",
                    f"session.save_path={self.sessions_dir}",
                    "-S",
                    f"{self.host}:{self.port}",
                    "-t",
                    str(self.tree / "public"),
                ],
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # own process group: stop() also reaches the workers
            )
        _live[self._process.pid] = self._process

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        last = "no answer yet"
        # Talk to 127.0.0.1 directly even when http_proxy is set in the environment.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            if not self.running:
                last = "php -S exited"
                break
            try:
                with opener.open(self.url + "login.php", timeout=2) as resp:
                    body = resp.read().decode("utf-8", "replace")
                    if resp.status == 200 and 'name="fUsername"' in body:
                        return
                    last = f"HTTP {resp.status} without the login form"
            except urllib.error.HTTPError as err:
                last = f"HTTP {err.code}"
            except OSError as err:
                last = str(err)
            time.sleep(0.05)
        raise TestbedError(
            f"PostfixAdmin at {self.url} did not come up ({last}); "
            f"log {self.log_path}: {self._log_tail()}"
        )

    def _log_tail(self, lines: int = 5) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)  # only what the current server wrote
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    def stop(self) -> None:
        """Terminate the server and its workers; safe to call twice."""
        proc, self._process = self._process, None
        if proc is None:
            return
        _stop_process(proc)
        self._wait_port_closed()

    def _wait_port_closed(self) -> None:
        # Killed workers release the listening socket a moment later; restart() on the
        # same port must not race them.
        deadline = time.monotonic() + _STOP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    pass
            except OSError:
                return
            time.sleep(0.02)

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def expire_sessions(self) -> None:
        """Delete every PHP session file, as an idle timeout would."""
        for path in self.sessions_dir.glob("sess_*"):
            path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        self.prepare()
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- seeding through the real postfixadmin-cli --------------------------------------

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run this instance's own postfixadmin-cli (stdin closed); raise CliError on rc != 0.

        The CLI finds its config relative to its own file, so running this tree's copy
        is what binds it to this instance's database.
        """
        script = self.tree / "scripts" / "postfixadmin-cli.php"
        proc = self._php_script(script, *args)
        if proc.returncode != 0:
            secrets = [a for i, a in enumerate(args) if i and args[i - 1] in _PASSWORD_OPTIONS]
            shown = " ".join(_redact_args(args))
            detail = _last_line(proc.stderr) or _last_line(proc.stdout) or "no output"
            raise CliError(
                _redact(
                    f"postfixadmin-cli {shown} failed (rc={proc.returncode}): {detail}", secrets
                ),
                proc,
            )
        return proc

    def add_domain(
        self,
        domain: str,
        mailboxes: int = 0,
        aliases: int = 0,
        description: str = "",
        **options: str | int,
    ) -> subprocess.CompletedProcess[str]:
        """Add an active domain; limits 0 = unlimited. Extra options: ``maxquota=100``..."""
        args = ["domain", "add", domain, "--aliases", str(aliases), "--mailboxes", str(mailboxes)]
        if description:  # an empty value would trip a PHP warning in the CLI parser
            args += ["--description", description]
        args += ["--active", "1", "--default-aliases", "0", *_options(options)]
        return self.cli(*args)

    def add_admin(
        self,
        username: str,
        password: str,
        domains: Sequence[str],
        superadmin: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        args = ["admin", "add", username, "--password", password, "--password2", password]
        args += ["--superadmin", "1" if superadmin else "0", "--active", "1"]
        if domains:
            args += ["--domains", ",".join(domains)]
        return self.cli(*args)

    def add_mailbox(
        self, address: str, password: str, name: str = "", **options: str | int
    ) -> subprocess.CompletedProcess[str]:
        """Add an active mailbox without a welcome mail. Extra options: ``quota=10``..."""
        args = ["mailbox", "add", address, "--password", password, "--password2", password]
        if name:
            args += ["--name", name]
        args += ["--active", "1", "--welcome-mail", "0", *_options(options)]
        return self.cli(*args)

    def add_alias(self, address: str, goto: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return self.cli("alias", "add", address, "--goto", ",".join(goto), "--active", "1")


# -- helpers -------------------------------------------------------------------------------


def _options(options: Mapping[str, str | int]) -> list[str]:
    out: list[str] = []
    for key, value in options.items():
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


def _redact_args(args: Sequence[str]) -> Iterator[str]:
    hide = False
    for arg in args:
        yield "***" if hide else arg
        hide = arg in _PASSWORD_OPTIONS


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _run_tool(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
    except OSError as err:  # apt-get / dpkg not installed
        raise TreeUnavailable(
            f"cannot run {cmd[0]} ({err.strerror}); the PostfixAdmin test bed needs a Debian host"
        ) from err


def _link_or_copy(src: str, dst: str) -> None:
    # Hard links make a tree copy ~5x faster. Safe because nothing writes into the tree's
    # PHP files: config.local.php is replaced by rename, config.inc.php is a real copy.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    # SIGINT is php -S's graceful stop: the master reaps its workers, then exits.
    # (SIGTERM kills the master first and orphans the workers.)
    stop_group(proc, signal.SIGINT, timeout=_STOP_TIMEOUT)
    _live.pop(proc.pid, None)


# Safety net: servers a caller forgot to stop (or whose instance object was dropped)
# are stopped when the interpreter exits. Keyed by pid, holding the Popen strongly.
_live: dict[int, subprocess.Popen[bytes]] = {}


@atexit.register
def _stop_all() -> None:
    for proc in list(_live.values()):
        with contextlib.suppress(Exception):
            _stop_process(proc)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mailmove.testbed.postfixadmin --ensure-tree DIR``: used by scripts/setup.sh."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mailmove.testbed.postfixadmin")
    parser.add_argument("--ensure-tree", metavar="CACHE_DIR", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        tree = ensure_tree(args.ensure_tree)
    except TestbedError as exc:
        print(f"setup: {exc}", file=sys.stderr)
        return 1
    print(f"setup: PostfixAdmin tree at {tree}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
