"""``mailmove records DOMAIN --server NAME [--format json|zone|table]``.

Exit codes (the CLI contract): 0 the records could be computed; 1 the domain's current
records block it (e.g. two SPF records: they must be merged first); 2 a usage error, or no
authoritative server answered. Output language: ``$MAILMOVE_LANG``, else ``$LANG``
(Japanese unless it says English); the JSON carries both languages.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from mailmove.config import Config
from mailmove.errors import MailmoveError
from mailmove.i18n import Lang, normalise_lang
from mailmove.records import (
    notice_text,
    plan_json,
    records_for,
    text_table,
    zone_snippet,
)

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_USAGE = 2


def cli_lang() -> Lang:
    return normalise_lang(os.environ.get("MAILMOVE_LANG") or os.environ.get("LANG"))


def run_records(args: argparse.Namespace, config: Config) -> int:
    """Print the records for ``args.domain`` in ``args.format``; return the exit code."""
    lang = cli_lang()
    try:
        server = config.server(getattr(args, "server", None))
        plan = records_for(config, args.domain, server, rua=getattr(args, "rua", None))
    except MailmoveError as exc:  # ConfigError, RecordsInputError, DnsUnavailable
        print(f"mailmove records: {exc}", file=sys.stderr)
        return EXIT_USAGE
    fmt = getattr(args, "format", "table") or "table"
    if fmt == "json":
        print(json.dumps(plan_json(plan), ensure_ascii=False, indent=2))
    elif fmt == "zone":
        sys.stdout.write(zone_snippet(plan, lang))
    else:
        sys.stdout.write(text_table(plan, lang))
    if plan.blocked:
        reasons = "; ".join(notice_text(n, lang) for n in plan.notices if n.severity == "block")
        print(f"mailmove records: {reasons}", file=sys.stderr)
        return EXIT_BLOCKED
    return EXIT_OK
