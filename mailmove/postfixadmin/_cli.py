"""The provisioning Backend over ``postfixadmin-cli``, for an app on the PostfixAdmin host.

Why it exists: support staff on the PFA host can provision without a web login. It
runs the same handler code as the web forms (validation, limits, hooks), but acts as
an implicit superadmin: domain scope is *not* enforced by PFA here, so the caller (the
planner) must enforce it.

Security note: postfixadmin-cli only takes passwords as command-line options
(``--password``), so they are visible to other local users in ``ps`` while the process
runs (milliseconds). There is no stdin or environment alternative in PFA 3.3. This
module never logs an argv and scrubs passwords from every message it raises.

Other CLI facts (reference §8): stdin must be closed and the id always given, errors
come on stderr as ``Error: ...`` with rc=1, a value starting with ``-`` cannot be
passed, there is no "list" task (so reads are one ``view`` per object, ~35 ms each).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Final

from mailmove.postfixadmin._csv import parse_bool, parse_count_limit, split_targets
from mailmove.postfixadmin._errors import FormError, ProtocolError, Rejected, Unreachable
from mailmove.postfixadmin._model import LiveAlias, LiveMailbox, LiveState, Outcome
from mailmove.postfixadmin._types import AdminIdentity, DomainInfo

__all__ = ["CLI_IDENTITY", "PostfixAdminCli"]

CLI_IDENTITY: Final = AdminIdentity(username="postfixadmin-cli", superadmin=True)
_NOISE_RE: Final = re.compile(r"(PHP )?(Warning|Notice|Deprecated):|^-+$|Welcome to Postfixadmin")
_LEADING_INT_RE: Final = re.compile(r"^\s*(-?\d+)")
_KEEP_COPY_LABEL: Final = "Deliver to the local mailbox."

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class PostfixAdminCli:
    """Provision through ``postfixadmin-cli`` subprocesses (one per operation).

    ``cli_path`` is the PHP script (run with ``php``) or the shell wrapper. ``php_args``
    are passed to PHP before the script (e.g. ``-d session.save_path=...``); ``cwd``
    defaults to the PostfixAdmin tree so its ``dbconfig.inc.php`` is the one found.
    ``runner`` is injectable for tests.
    """

    def __init__(
        self,
        cli_path: str | Path,
        *,
        php: str = "php",
        php_args: Sequence[str] = (),
        cwd: str | Path | None = None,
        timeout: float = 60,
        runner: Runner | None = None,
    ) -> None:
        self.cli_path = Path(cli_path)
        self.php = php
        self.php_args = tuple(php_args)
        self.cwd = Path(cwd) if cwd is not None else self.cli_path.resolve().parent.parent
        self.timeout = timeout
        self._runner = runner if runner is not None else self._run_subprocess
        self._pending: list[str] = []

    def __repr__(self) -> str:
        return f"PostfixAdminCli({str(self.cli_path)!r})"

    @property
    def identity(self) -> AdminIdentity:
        return CLI_IDENTITY

    def close(self) -> None:
        """Nothing to release: every call is its own process."""

    def drain_warnings(self) -> list[str]:
        warnings, self._pending = self._pending, []
        return warnings

    # -- reading ---------------------------------------------------------------------

    def read_state(
        self,
        domains: Collection[str] = (),
        addresses: Collection[str] = (),
        mailbox_aliases: Collection[str] = (),
    ) -> LiveState:
        """One ``view`` per listed domain and address (the CLI cannot list)."""
        del mailbox_aliases  # every listed address's alias is read anyway
        state = LiveState(identity=CLI_IDENTITY)
        for domain in sorted({d.lower() for d in domains}):
            info = self.view_domain(domain)
            if info is not None:
                state.domains[domain] = info
        for address in sorted({a.lower() for a in addresses}):
            alias = self.view_alias(address)
            if alias is None:
                continue
            if alias.is_mailbox:
                state.mailbox_aliases[address] = alias
                mailbox = self.view_mailbox(address)
                if mailbox is not None:
                    state.mailboxes[address] = mailbox
            else:
                state.aliases[address] = alias
        return state

    def view_domain(self, domain: str) -> DomainInfo | None:
        fields = self._view("domain", domain)
        if fields is None:
            return None
        alias_count, alias_limit = parse_count_limit(fields.get("Aliases", "0 / ∞"))
        mailbox_count, mailbox_limit = parse_count_limit(fields.get("Mailboxes", "0 / ∞"))
        return DomainInfo(
            name=domain,
            description=fields.get("Description"),
            alias_count=alias_count,
            alias_limit=alias_limit,
            mailbox_count=mailbox_count,
            mailbox_limit=mailbox_limit,
            backup_mx=parse_bool(fields.get("Mail server is backup MX")),
            active=parse_bool(fields.get("Active")),
        )

    def view_mailbox(self, address: str) -> LiveMailbox | None:
        fields = self._view("mailbox", address)
        if fields is None:
            return None
        quota = _LEADING_INT_RE.match(fields.get("Quota", ""))
        return LiveMailbox(
            address=address,
            name=fields.get("Name", ""),
            quota_mb=int(quota.group(1)) if quota else None,
            active=parse_bool(fields.get("Active")),
        )

    def view_alias(self, address: str) -> LiveAlias | None:
        fields = self._view("alias", address)
        if fields is None:
            return None
        is_mailbox = _KEEP_COPY_LABEL in fields
        return LiveAlias(
            address=address,
            targets=split_targets(fields.get("To", "")),
            active=parse_bool(fields.get("Active")),
            is_mailbox=is_mailbox,
            keep_copy=is_mailbox and parse_bool(fields.get(_KEEP_COPY_LABEL)),
        )

    def _view(self, module: str, ident: str) -> dict[str, str] | None:
        proc = self._call(module, "view", ident)
        if proc.returncode != 0:
            rejected = Rejected(f"{module} {ident}", _errors(proc))
            if rejected.does_not_exist:
                return None
            raise rejected
        fields: dict[str, str] = {}
        for line in proc.stdout.splitlines():
            label, sep, value = line.strip().partition(": ")
            if not sep:
                label, sep, value = line.strip().partition(":")
            if sep and label and not _NOISE_RE.search(line):
                fields.setdefault(label.strip(), value.strip())
        return fields

    # -- writing ---------------------------------------------------------------------

    def create_domain(self, domain: str, *, mailboxes: int = 0, aliases: int = 0) -> Outcome:
        return self._change(
            f"domain {domain}",
            ["domain", "add", domain.lower(), "--aliases", str(aliases)],
            ["--mailboxes", str(mailboxes), "--active", "1", "--default-aliases", "0"],
        )

    def create_mailbox(
        self, address: str, password: str, *, name: str = "", quota_mb: int | None = None
    ) -> Outcome:
        args = ["mailbox", "add", address.lower()]
        options = ["--password", password, "--password2", password]
        if name:  # an empty value trips a PHP warning in the CLI's option parser
            options += ["--name", name]
        options += ["--quota", str(quota_mb or 0), "--active", "1", "--welcome-mail", "0"]
        return self._change(f"mailbox {address.lower()}", args, options, secrets=[password])

    def update_mailbox(
        self,
        address: str,
        *,
        name: str | None = None,
        quota_mb: int | None = None,
        active: bool | None = None,
        password: str | None = None,
    ) -> Outcome:
        """Only the given options are sent; the CLI keeps every other field as it is."""
        options: list[str] = []
        if name:
            options += ["--name", name]
        if quota_mb is not None:
            options += ["--quota", str(quota_mb)]
        if active is not None:
            options += ["--active", "1" if active else "0"]
        secrets: list[str] = []
        if password is not None:
            options += ["--password", password, "--password2", password]
            secrets.append(password)
        if not options:
            return Outcome()
        args = ["mailbox", "update", address.lower()]
        return self._change(f"mailbox {address.lower()}", args, options, secrets=secrets)

    def create_alias(self, address: str, targets: Sequence[str]) -> Outcome:
        ident = _cli_alias_id(address)
        args = ["alias", "add", ident]
        options = ["--goto", ",".join(targets), "--active", "1"]
        return self._change(f"alias {address.lower()}", args, options)

    def update_alias(
        self,
        address: str,
        targets: Sequence[str],
        *,
        keep_copy: bool | None = None,
        active: bool | None = None,
        current: LiveAlias | None = None,
    ) -> Outcome:
        """``--goto`` replaces all targets; an omitted ``--goto-mailbox`` keeps the flag."""
        if not targets:
            raise Rejected(
                f"alias {address}",
                [FormError("goto", "postfixadmin-cli cannot set an empty list of targets")],
            )
        options = ["--goto", ",".join(targets)]
        is_mailbox = current.is_mailbox if current is not None else keep_copy is not None
        if keep_copy is not None and is_mailbox:
            options += ["--goto-mailbox", "1" if keep_copy else "0"]
        if active is not None:
            options += ["--active", "1" if active else "0"]
        args = ["alias", "update", _cli_alias_id(address)]
        return self._change(f"alias {address.lower()}", args, options)

    def delete_alias(self, address: str) -> Outcome:
        return self._change(f"alias {address.lower()}", ["alias", "delete", _cli_alias_id(address)])

    # -- process handling ------------------------------------------------------------

    def _change(
        self,
        what: str,
        args: Sequence[str],
        options: Sequence[str] = (),
        *,
        secrets: Sequence[str] = (),
    ) -> Outcome:
        for i, value in enumerate(options):
            if i % 2 == 1 and value.startswith("-"):
                # The CLI would read it as an option (reference §8a); refuse it clearly.
                option = options[i - 1]
                raise Rejected(
                    what,
                    [
                        FormError(
                            option.lstrip("-"),
                            "postfixadmin-cli cannot pass a value "
                            "that starts with '-'; use the web interface",
                        )
                    ],
                )
        proc = self._call(*args, *options)
        if proc.returncode != 0:
            raise Rejected(what, _scrubbed(_errors(proc), secrets))
        # rc=0 with something on stderr: saved, but a side effect (hook, mail) complained.
        warnings = tuple(_scrub(line, secrets) for line in _meaningful_lines(proc.stderr))
        return Outcome(warnings)

    def _call(self, *args: str) -> subprocess.CompletedProcess[str]:
        if self.cli_path.suffix == ".php":
            argv = [self.php, "-q", *self.php_args, str(self.cli_path), *args]
        else:
            argv = [str(self.cli_path), *args]
        proc = self._runner(argv)
        if proc.returncode not in (0, 1) or "PHP Fatal error" in (proc.stderr or ""):
            # Not PFA refusing something: the CLI itself could not run (config, DB, PHP).
            detail = _last_line(proc.stderr) or _last_line(proc.stdout) or f"rc={proc.returncode}"
            if "database" in detail.lower() or "SQLSTATE" in detail:
                raise Unreachable(f"postfixadmin-cli cannot reach its database: {detail}")
            raise ProtocolError(f"postfixadmin-cli failed (rc={proc.returncode}): {detail}")
        return proc

    def _run_subprocess(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                list(argv),
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise Unreachable(f"postfixadmin-cli did not finish in {self.timeout:g} s") from None
        except OSError as err:
            raise Unreachable(f"cannot run postfixadmin-cli ({err.strerror})") from None


def _cli_alias_id(address: str) -> str:
    """The CLI names a catch-all ``*@domain``; PFA stores it as ``@domain``."""
    address = address.lower()
    return "*" + address if address.startswith("@") else address


def _meaningful_lines(text: str | None) -> list[str]:
    return [
        line.strip()
        for line in (text or "").splitlines()
        if line.strip() and not _NOISE_RE.search(line)
    ]


def _errors(proc: subprocess.CompletedProcess[str]) -> list[FormError]:
    messages: list[str] = []
    for line in _meaningful_lines(proc.stderr):
        message = line.removeprefix("Error: ")
        message = message.removeprefix("Execution Exception: ").removeprefix("Error: ")
        messages.append(message)
    if not messages:
        messages = [_last_line(proc.stdout) or f"postfixadmin-cli exited with rc={proc.returncode}"]
    return [FormError(None, m) for m in messages]


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _scrubbed(errors: Sequence[FormError], secrets: Sequence[str]) -> list[FormError]:
    return [FormError(e.field, _scrub(e.message, secrets)) for e in errors]


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""
