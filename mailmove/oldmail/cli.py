"""Engines of ``mailmove instructions`` and ``mailmove sweep``; mailmove/cli.py wires them.

Kept here so the CLI module only parses arguments and reads the address list. Exit
codes follow the CLI contract: 0 success, 1 problems (invalid rows, refused or failed
items, a job in error), 2 usage errors (raised as MailmoveError, which the CLI prints
as one line). Output is English plain text for support staff; passwords never appear.

Optional arguments are read with ``getattr`` so the parser can grow without breaking
this module: ``--port`` (default 995), ``--protocol imap|pop3``, ``--clients ...``,
``--include-passwords``, ``--margin-hours``, ``--no-setup-files`` (instructions);
``--port``, ``--no-tls``, ``--delete`` (do not keep mail on the old server), ``--poll MINUTES``,
``--days N``, ``--check-login``, ``--expired``, ``--json`` (sweep).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

from mailmove.config import Config, Server
from mailmove.errors import MailmoveError
from mailmove.i18n import normalise_lang, t
from mailmove.oldmail._bundle import ZIP_NAME, write_bundle
from mailmove.oldmail._clients import CLIENT_IDS, client
from mailmove.oldmail._model import MailboxLike, NewServer, normalise_old_host
from mailmove.oldmail._pages import PageSettings
from mailmove.oldmail._sweep import (
    EVENT_START,
    EVENT_STOP,
    SweepSettings,
    caveats,
    deadline_from_events,
    in_domains,
    start_detail,
    start_sweep,
    stop_sweep,
    sweep_status,
)
from mailmove.oldmail._timing import DEFAULT_MARGIN_HOURS, compute_timing, parse_switch_at
from mailmove.postfixadmin import PostfixAdminClient, PostfixAdminError

__all__ = ["cmd_instructions", "cmd_sweep", "run_instructions", "run_sweep"]

EXIT_OK = 0
EXIT_PROBLEMS = 1


class AuditLog(Protocol):
    """The part of ``mailmove.store.Store`` the sweep uses to remember its end date."""

    def record_event(
        self, actor: str, action: str, *, domain: str = "", detail: str = ""
    ) -> None: ...

    def recent_events(
        self, limit: int = 50, *, domains: Sequence[str] | None = None
    ) -> Sequence[object]: ...


def _required(args: argparse.Namespace, name: str, flag: str) -> str:
    value = getattr(args, name, None)
    if not value:
        raise MailmoveError(f"{flag} is required")
    return str(value)


def run_instructions(
    args: argparse.Namespace,
    config: Config,
    mailboxes: Sequence[MailboxLike],
    invalid_rows: Sequence[object] = (),
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Write ``<address>.html`` per user, ``index.csv`` and ``instructions.zip`` to --out.

    ``invalid_rows``: the rows the list reader rejected; each item's ``str()`` is one
    stderr line (e.g. "row 7: taro.@docomo.ne.jp: ..."). Those users get no page and
    the exit code is 1.
    """
    out, err = stdout or sys.stdout, stderr or sys.stderr
    old_host = normalise_old_host(_required(args, "old_host", "--old-host"))
    switch_text = _required(args, "switch_at", "--switch-at")
    out_dir = Path(_required(args, "out", "--out"))
    server = config.server(getattr(args, "server", None))
    clients = tuple(getattr(args, "clients", None) or CLIENT_IDS)
    try:
        for c in clients:
            client(c)
    except ValueError as exc:
        raise MailmoveError(str(exc)) from None
    timing = compute_timing(
        parse_switch_at(switch_text, config.timezone),
        config.timezone,
        margin_hours=int(getattr(args, "margin_hours", None) or DEFAULT_MARGIN_HOURS),
    )
    settings = PageSettings(
        old_host=old_host,
        timing=timing,
        new_server=NewServer.from_config(server),
        lang=normalise_lang(getattr(args, "lang", "ja")),
        old_port=int(getattr(args, "port", None) or 995),
        new_protocol="pop3" if getattr(args, "protocol", "imap") == "pop3" else "imap",
        clients=clients,
        include_generated_passwords=bool(getattr(args, "include_passwords", False)),
    )
    partial = out_dir / (ZIP_NAME + ".partial")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        entries = write_bundle(
            mailboxes,
            settings,
            partial,
            out_dir=out_dir,
            setup_files=not getattr(args, "no_setup_files", False),
        )
        os.replace(partial, out_dir / ZIP_NAME)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise MailmoveError(f"cannot write to {out_dir}: {exc.strerror or exc}") from None
    print(f"wrote {len(entries)} page(s), index.csv and {ZIP_NAME} to {out_dir}", file=out)
    for row in invalid_rows:
        print(f"mailmove instructions: no page for invalid {row}", file=err)
    return EXIT_PROBLEMS if invalid_rows else EXIT_OK


def _client_for(server: Server) -> PostfixAdminClient:
    pfa = server.postfixadmin
    if not pfa.username or not pfa.password:
        raise MailmoveError(
            f"sweep needs a PostfixAdmin account: set servers[{server.name}].postfixadmin."
            "username and its password (password_env or secrets.toml)"
        )
    client_ = PostfixAdminClient(pfa.url)
    try:
        client_.login(pfa.username, pfa.password)
    except PostfixAdminError as exc:
        raise MailmoveError(str(exc)) from None
    return client_


def _store(config: Config) -> AuditLog | None:
    """The audit store (for the sweep's end date); a broken store is a warning, not a stop."""
    from mailmove.store import Store, StoreError

    try:
        store = Store(config.store)
        store.migrate()
    except StoreError:
        return None
    return store


def run_sweep(
    args: argparse.Namespace,
    config: Config,
    mailboxes: Sequence[MailboxLike] | None = None,
    *,
    client_: PostfixAdminClient | None = None,
    store: AuditLog | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """``sweep start|status|stop``; ``mailboxes`` (with passwords) is needed for start only."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    action = _required(args, "action", "start, status or stop")
    server = config.server(getattr(args, "server", None))
    domains = [d.strip().lower() for d in getattr(args, "domain", None) or [] if d.strip()]
    old_host_arg = getattr(args, "old_host", None)
    old_host = normalise_old_host(old_host_arg) if old_host_arg else None
    if action in ("start", "stop") and old_host is None:
        raise MailmoveError(f"sweep {action} needs --old-host")
    if action == "start" and mailboxes is None:
        raise MailmoveError("sweep start needs the address list with the users' passwords")
    own_client = client_ is None
    pfa = client_ or _client_for(server)
    try:
        if action == "start":
            assert old_host is not None
            assert mailboxes is not None
            return _start(args, pfa, mailboxes, domains, old_host, store, config, out, err, now)
        if action == "status":
            return _status(args, pfa, domains, old_host, out)
        assert old_host is not None
        return _stop(args, pfa, domains, old_host, store, config, out, err, now)
    except PostfixAdminError as exc:
        raise MailmoveError(str(exc)) from None
    finally:
        if own_client:
            pfa.close()


def _start(
    args: argparse.Namespace,
    pfa: PostfixAdminClient,
    mailboxes: Sequence[MailboxLike],
    domains: list[str],
    old_host: str,
    store: AuditLog | None,
    config: Config,
    out: TextIO,
    err: TextIO,
    now: datetime | None,
) -> int:
    try:
        settings = SweepSettings(
            old_host=old_host,
            port=int(getattr(args, "port", None) or 995),
            keep=not getattr(args, "delete", False),
            poll_minutes=int(getattr(args, "poll", None) or 10),
            days=int(getattr(args, "days", None) or 7),
            tls=False if getattr(args, "no_tls", False) else None,
        )
    except ValueError as exc:
        raise MailmoveError(str(exc)) from None
    chosen = in_domains(mailboxes, domains) if domains else list(mailboxes)
    for key in caveats(settings):
        print(f"note: {t(key, 'en')}", file=err)
    outcomes = start_sweep(
        pfa, chosen, settings, check_login=bool(getattr(args, "check_login", False))
    )
    for o in outcomes:
        detail = f": {o.detail}" if o.detail else ""
        print(f"{o.address}\t{o.status.replace('_', ' ')}{detail}", file=out)
    started = sorted(
        {o.address.rsplit("@", 1)[1] for o in outcomes if o.status in ("created", "exists")}
    )
    store = store if store is not None else _store(config)
    for domain in started:
        _record(store, pfa, EVENT_START, domain, start_detail(settings, now=now))
    failed = [o for o in outcomes if o.status in ("login_failed", "refused")]
    waiting = [o for o in outcomes if o.status == "needs_instructions"]
    print(
        f"{len(outcomes) - len(failed) - len(waiting)} job(s) in place, {len(failed)} failed, "
        f"{len(waiting)} need instructions (no known old password)",
        file=out,
    )
    return EXIT_PROBLEMS if failed else EXIT_OK


def _status(
    args: argparse.Namespace,
    pfa: PostfixAdminClient,
    domains: list[str],
    old_host: str | None,
    out: TextIO,
) -> int:
    rows = sweep_status(pfa, domains=domains or None, old_host=old_host)
    if getattr(args, "json", False):
        data = [
            {
                "mailbox": r.job.mailbox,
                "old_host": r.job.src_server,
                "last_run": r.job.date if r.job.has_run else None,
                "state": r.state,
                "result": r.job.returned_text,
                "active": r.job.active,
            }
            for r in rows
        ]
        print(json.dumps(data, ensure_ascii=False, indent=2), file=out)
    else:
        for r in rows:
            last = r.job.date if r.job.has_run else "never"
            print(f"{r.job.mailbox}\t{r.job.src_server}\t{last}\t{r.state}\t{r.result}", file=out)
        print(f"{len(rows)} job(s)", file=out)
    return EXIT_PROBLEMS if any(r.state == "error" for r in rows) else EXIT_OK


def _stop(
    args: argparse.Namespace,
    pfa: PostfixAdminClient,
    domains: list[str],
    old_host: str,
    store: AuditLog | None,
    config: Config,
    out: TextIO,
    err: TextIO,
    now: datetime | None,
) -> int:
    store = store if store is not None else _store(config)
    if getattr(args, "expired", False):
        domains = _expired_domains(store, domains, now or datetime.now(UTC))
        if not domains:
            print("no sweep has reached its end date", file=out)
            return EXIT_OK
    outcomes = stop_sweep(pfa, domains=domains or None, old_host=old_host)
    for o in outcomes:
        state = "removed" if o.removed else f"NOT removed: {o.detail}"
        print(f"{o.job.mailbox}\t{o.job.src_server}\t{state}", file=out)
    for domain in sorted({o.job.domain for o in outcomes if o.removed}):
        _record(store, pfa, EVENT_STOP, domain, f"old_host={old_host}")
    print(f"{sum(o.removed for o in outcomes)} job(s) removed", file=out)
    return EXIT_PROBLEMS if any(not o.removed for o in outcomes) else EXIT_OK


def _expired_domains(store: AuditLog | None, domains: list[str], now: datetime) -> list[str]:
    if store is None or not domains:
        raise MailmoveError("--expired needs --domain and a readable state store")
    events = store.recent_events(1000, domains=domains)
    expired = []
    for domain in domains:
        until = deadline_from_events(events, domain)
        if until is not None and until <= now:
            expired.append(domain)
    return expired


def _record(
    store: AuditLog | None, pfa: PostfixAdminClient, action: str, domain: str, detail: str
) -> None:
    if store is None:
        return
    actor = pfa.identity.username if pfa.identity else "cli"
    store.record_event(actor, action, domain=domain, detail=detail)


# -- entry points with the address list read here (what mailmove/cli.py calls) --------


def _read_list(args: argparse.Namespace, config: Config) -> tuple[list[MailboxLike], list[str]]:
    """Read and validate ADDRESSES like ``mailmove validate``; errors become stderr lines.

    Rows without a password are accepted (a password is then generated, and marked so):
    those users still need a page; their generated password is never the one a past
    ``apply`` set, so it is never printed from the CLI.
    """
    from mailmove.lists import ListReadError, Options, check_files

    server = config.server(getattr(args, "server", None))
    options = Options(policy=server.password_policy, generate_passwords=True)
    try:
        result = check_files(args.addresses, None, options)
    except ListReadError as exc:
        raise MailmoveError(exc.message("en")) from None
    problems = [
        f"row {i.row}{f' [{i.column}]' if i.column else ''}: {i.message('en')}"
        for i in result.errors
    ]
    return list(result.mailboxes), problems


def cmd_instructions(args: argparse.Namespace, config: Config) -> int:
    """``mailmove instructions ADDRESSES --server --old-host --switch-at --out [--lang]``."""
    mailboxes, problems = _read_list(args, config)
    if getattr(args, "include_passwords", False):
        print(
            "mailmove instructions: --include-passwords ignored: a generated password is only "
            "known to the app session that created the mailboxes",
            file=sys.stderr,
        )
        args = argparse.Namespace(**{**vars(args), "include_passwords": False})
    return run_instructions(args, config, mailboxes, problems)


def cmd_sweep(args: argparse.Namespace, config: Config) -> int:
    """``mailmove sweep start|status|stop``; start reads ``--addresses FILE`` for passwords."""
    mailboxes = None
    if getattr(args, "action", None) == "start":
        if not getattr(args, "addresses", None):
            raise MailmoveError("sweep start needs --addresses FILE (the list with passwords)")
        mailboxes, problems = _read_list(args, config)
        for line in problems:
            print(f"mailmove sweep: skipped invalid {line}", file=sys.stderr)
    return run_sweep(args, config, mailboxes)
