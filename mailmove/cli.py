"""The ``mailmove`` command: bulk work for support staff on a customer's behalf.

Exit codes are a contract for support scripts: 0 success, 1 problems found
(validation errors, a check that is not green, failed items), 2 usage error or
unreadable input, with a one-line reason on stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from mailmove import __version__
from mailmove.config import Config, load_config, masked
from mailmove.errors import MailmoveError

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace, Config], int]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")


def _cmd_config(args: argparse.Namespace, config: Config) -> int:
    print(json.dumps(masked(config), ensure_ascii=False, indent=2))
    return EXIT_OK


def _cmd_staff_hash(args: argparse.Namespace, config: Config) -> int:
    """Print a hash for secrets.toml's [staff_accounts]; the password is read, never echoed."""
    import getpass

    from mailmove.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("staff password: ")
        if getpass.getpass("again: ") != password:
            print("mailmove staff-hash: the passwords differ", file=sys.stderr)
            return EXIT_USAGE
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        print("mailmove staff-hash: use at least 12 characters", file=sys.stderr)
        return EXIT_USAGE
    print(hash_password(password))
    return EXIT_OK


def _run_validate(args: argparse.Namespace, config: Config) -> int:
    from mailmove.lists.cli import run_validate

    return run_validate(args, config)


def _run_instructions(args: argparse.Namespace, config: Config) -> int:
    from mailmove.oldmail.cli import cmd_instructions

    return cmd_instructions(args, config)


def _run_sweep(args: argparse.Namespace, config: Config) -> int:
    from mailmove.oldmail.cli import cmd_sweep

    return cmd_sweep(args, config)


def _run_provision(args: argparse.Namespace, config: Config) -> int:
    """plan/apply: read and validate the lists, then hand them to the provisioning engine."""
    from mailmove.lists import ListReadError, Options, check_files
    from mailmove.plan import Desired
    from mailmove.provision_cli import cli_lang, run_apply, run_plan

    server = config.server(getattr(args, "server", None))
    lang = cli_lang()
    try:
        result = check_files(args.addresses, args.forwards, Options(policy=server.password_policy))
    except ListReadError as exc:
        raise MailmoveError(exc.message(lang)) from None
    for issue in result.errors:
        where = f"{issue.file}:{issue.row}:{issue.column}"
        print(f"{where}: {issue.message(lang)} [{issue.code}]", file=sys.stderr)
    desired = Desired.from_lists(result)
    run = run_plan if args.command == "plan" else run_apply
    return run(args, config, desired)


def _run_check(args: argparse.Namespace, config: Config) -> int:
    from mailmove.propagation.cli import run_check

    return run_check(args, config)


def _run_records(args: argparse.Namespace, config: Config) -> int:
    from mailmove.records.cli import run_records

    return run_records(args, config)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,  # so "mailmove --config X cmd" and "cmd --config X" both work
        help="configuration file (default: $MAILMOVE_CONFIG, then ./mailmove.yaml, "
        "then the embedded demo defaults)",
    )
    parser = _Parser(prog="mailmove", description=__doc__.splitlines()[0], parents=[common])
    parser.add_argument("--version", action="version", version=f"mailmove {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, parents=[common])
        p.set_defaults(handler=handler)
        return p

    add("config", "print the configuration in force, secrets masked", _cmd_config)
    add("staff-hash", "hash a staff password for secrets.toml [staff_accounts]", _cmd_staff_hash)

    p = add("validate", "check address and forwarding lists", _run_validate)
    p.add_argument("addresses", help="address list (.csv, .tsv, .txt, .xlsx; - for stdin)")
    p.add_argument("--forwards", metavar="FILE", help="a separate forwarding list")
    p.add_argument("--domain", action="append", default=[], help="a domain of this migration")
    p.add_argument("--server", metavar="NAME", help="whose password policy applies")
    p.add_argument("--lang", choices=("ja", "en"), help="language of the messages")
    p.add_argument(
        "--generate-passwords",
        action="store_true",
        help="give mailboxes without a password a generated one instead of an error",
    )
    p.add_argument("--json", action="store_true")

    for name, help_text in (
        ("plan", "show what provisioning would change"),
        ("apply", "provision the lists into PostfixAdmin"),
    ):
        p = add(name, help_text, _run_provision)
        p.add_argument("addresses")
        p.add_argument("--forwards", metavar="FILE")
        p.add_argument("--server", metavar="NAME")
        p.add_argument("--json", action="store_true")
        if name == "apply":
            p.add_argument("--yes", action="store_true", help="also change conflicting objects")

    p = add("records", "the DNS records a domain needs", _run_records)
    p.add_argument("domain")
    p.add_argument("--server", metavar="NAME")
    p.add_argument("--format", choices=("json", "zone", "table"), default="table")
    p.add_argument("--rua", metavar="ADDRESS", help="where DMARC reports go (new DMARC only)")

    p = add("check", "live DNS propagation check", _run_check)
    p.add_argument("domain")
    p.add_argument("--server", metavar="NAME")
    p.add_argument("--json", action="store_true")
    p.add_argument("--watch", type=int, metavar="SECONDS")

    p = add("instructions", "per-user pages for fetching old mail", _run_instructions)
    p.add_argument("addresses")
    p.add_argument("--server", metavar="NAME")
    p.add_argument("--old-host", help="the old POP server: its host name (matches its certificate)")
    p.add_argument("--switch-at", metavar="ISO-TIME", help="when MX was (or will be) switched")
    p.add_argument("--out", metavar="DIR")
    p.add_argument("--lang", choices=("ja", "en"), default="ja")
    p.add_argument("--port", type=int, choices=(995, 110), default=995)
    p.add_argument(
        "--protocol", choices=("imap", "pop3"), default="imap", help="how the new account is set up"
    )
    p.add_argument("--clients", nargs="+", metavar="CLIENT", help="only these mail programs")
    p.add_argument("--margin-hours", type=int, metavar="N")
    p.add_argument("--no-setup-files", action="store_true")
    p.add_argument("--include-passwords", action="store_true")

    p = add("sweep", "server-side retrieval of old mail", _run_sweep)
    p.add_argument("action", choices=("start", "status", "stop"))
    p.add_argument("--server", metavar="NAME")
    p.add_argument("--domain", action="append", default=[])
    p.add_argument("--old-host")
    p.add_argument("--addresses", metavar="FILE", help="the list with passwords (start only)")
    p.add_argument("--port", type=int, choices=(995, 110), default=995)
    p.add_argument("--no-tls", action="store_true")
    p.add_argument("--delete", action="store_true", help="delete fetched mail on the old server")
    p.add_argument("--poll", type=int, metavar="MIN")
    p.add_argument("--days", type=int, metavar="N", help="remove the jobs after N days")
    p.add_argument("--check-login", action="store_true")
    p.add_argument("--expired", action="store_true", help="stop: only jobs past their end date")
    p.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(getattr(args, "config", None))
        handler: Handler = args.handler
        return handler(args, config)
    except MailmoveError as exc:
        print(f"mailmove {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"mailmove {args.command}: interrupted", file=sys.stderr)
        return 130
