"""``mailmove check DOMAIN --server NAME [--json] [--watch SECONDS]``.

Exit codes (the CLI contract): 0 only when the overall light is green, 1 otherwise (red,
amber, grey), 2 on usage errors. Green needs two consecutive matching checks, so a single run
that finds everything right checks once more after a short pause before answering; with
``--watch`` the check repeats every SECONDS until green (JSON: one document per line).
Output language: ``$MAILMOVE_LANG``, else ``$LANG``; JSON keys are the same in both.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from mailmove.config import Config
from mailmove.errors import MailmoveError
from mailmove.i18n import Lang
from mailmove.propagation._model import CheckResult, CheckState
from mailmove.propagation.checker import check
from mailmove.propagation.report import result_json, text_report
from mailmove.records import check_domain
from mailmove.records.cli import cli_lang

EXIT_GREEN = 0
EXIT_NOT_GREEN = 1
EXIT_USAGE = 2
CONFIRM_PAUSE_S = 2.0  # between the first all-right check and the one that confirms it


def _only_confirming(result: CheckResult) -> bool:
    """Amber only because the right answers were seen once: a second check may turn green."""
    lights = [v for r in result.records for v in r.vantages]
    return any(v.confirming for v in lights) and all(
        v.light in ("green", "grey") or v.confirming for v in lights
    )


def run_check(args: argparse.Namespace, config: Config) -> int:
    """Check ``args.domain`` for ``args.server``; print JSON or text; return the exit code."""
    lang = cli_lang()
    watch = getattr(args, "watch", None)
    try:
        server = config.server(getattr(args, "server", None))
        domain = check_domain(args.domain)
        if watch is not None and watch <= 0:
            raise MailmoveError("--watch needs a positive number of seconds")
    except MailmoveError as exc:
        print(f"mailmove check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    as_json = bool(getattr(args, "json", False))
    previous: CheckState | None = None
    while True:
        result = check(config, server, domain, previous=previous)
        if watch is None and result.overall != "green" and _only_confirming(result):
            time.sleep(CONFIRM_PAUSE_S)  # green needs a second, consecutive match
            result = check(config, server, domain, previous=result.state)
        _print(result, as_json=as_json, compact=watch is not None, config=config, lang=lang)
        if watch is None or result.overall == "green":
            break
        previous = result.state
        time.sleep(watch)
    return EXIT_GREEN if result.overall == "green" else EXIT_NOT_GREEN


def _print(
    result: CheckResult, *, as_json: bool, compact: bool, config: Config, lang: Lang
) -> None:
    if as_json:
        data = result_json(result, lang, config.timezone)
        text = json.dumps(data, ensure_ascii=False, indent=None if compact else 2)
        print(text, flush=True)
    else:
        sys.stdout.write(text_report(result, lang, config.timezone))
        sys.stdout.flush()
