"""``mailmove validate``: the same checks as the page, for support staff and scripts.

Exit 0 when no row has an error, 1 when some do, 2 when a file cannot be read (or
a --domain is not a domain). ``--json`` prints one object; no output ever holds a
password, generated or given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from mailmove.config import Config, PasswordPolicy
from mailmove.i18n import Lang, normalise_lang, t
from mailmove.lists import (
    ListReadError,
    Options,
    prepare,
    read_bytes,
    read_file,
    result_json,
    to_ascii_domain,
    validate,
)
from mailmove.lists._export import file_label

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_UNREADABLE = 2


def cli_lang(args: argparse.Namespace) -> Lang:
    """--lang if the parser has it, else $MAILMOVE_LANG or the locale; Japanese by default."""
    explicit = getattr(args, "lang", None)
    if explicit:
        return normalise_lang(explicit)
    for var in ("MAILMOVE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        if os.environ.get(var):
            return normalise_lang(os.environ[var])
    return normalise_lang(None)


def server_policy(args: argparse.Namespace, config: Config) -> PasswordPolicy:
    """The chosen server's policy; with several servers and no choice, PostfixAdmin's default."""
    name = getattr(args, "server", None)
    if name:
        return config.server(name).password_policy
    if len(config.servers) == 1:
        return config.server(None).password_policy
    return PasswordPolicy()


def run_validate(args: argparse.Namespace, config: Config) -> int:
    lang = cli_lang(args)
    domains: frozenset[str] | None = None
    if args.domain:
        converted = [to_ascii_domain(d) for d in args.domain]
        for given, ascii_domain in zip(args.domain, converted, strict=True):
            if ascii_domain is None:
                _fail(t("lists.cli.bad_domain", lang, domain=given))
                return EXIT_UNREADABLE
        domains = frozenset(d for d in converted if d)
    options = Options(
        domains=domains,
        policy=server_policy(args, config),
        generate_passwords=bool(getattr(args, "generate_passwords", False)),
        default_aliases=bool(getattr(args, "default_aliases", True)),
    )
    try:
        if args.addresses == "-":
            table = read_bytes(sys.stdin.buffer.read(), "-")
        else:
            table = read_file(args.addresses)
        addresses = prepare(table, "addresses")
        forwards = prepare(read_file(args.forwards), "forwards") if args.forwards else None
    except ListReadError as exc:
        _fail(f"{exc.file}: {exc.message(lang)}" if exc.file else exc.message(lang))
        return EXIT_UNREADABLE
    result = validate(addresses, forwards, options)
    if args.json:
        print(json.dumps(result_json(result, lang), ensure_ascii=False, indent=2))
    else:
        for issue in (*result.errors, *result.warnings):
            where = ":".join(
                str(p) for p in (file_label(issue.file, lang), issue.row or "", issue.column) if p
            )
            severity = t(f"lists.severity.{issue.severity}", lang)
            print(f"{where}: {severity}: {issue.message(lang)} [{issue.code}]")
        print(
            t(
                "lists.cli.summary",
                lang,
                mailboxes=len(result.mailboxes),
                forwards=len(result.forwards),
                errors=len(result.errors),
                warnings=len(result.warnings),
            )
        )
    return EXIT_PROBLEMS if result.errors else EXIT_OK


def _fail(message: str) -> None:
    print(f"mailmove validate: {message}", file=sys.stderr)
