"""``mailmove plan`` and ``mailmove apply``: the provisioning engine for support staff.

``mailmove.cli`` parses the arguments and the lists (with ``mailmove.lists``) and then
calls :func:`run_plan` / :func:`run_apply` with a :class:`~mailmove.plan.Desired`.
Exit codes follow the CLI contract: 0 the plan can run / nothing failed, 1 it cannot /
something failed or is missing afterwards; PostfixAdmin or configuration trouble is
raised as a MailmoveError (exit 2 in ``cli.main``).

The CLI acts with the server's configured staff account (or postfixadmin-cli), so no
domain scope beyond what that account holds is applied here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import TextIO

from mailmove.apply import JobOutcome, Progress, ProvisionJob, plan_only
from mailmove.config import Config, Server
from mailmove.errors import ConfigError
from mailmove.i18n import Lang, normalise_lang, t
from mailmove.jobs import JobLog, SqlJobLog, migrate_jobs
from mailmove.plan import Desired, Plan, PlanOptions
from mailmove.postfixadmin import Backend, connect

__all__ = ["cli_lang", "run_apply", "run_plan"]

EXIT_OK = 0
EXIT_PROBLEMS = 1
# How long `apply` rides out a PostfixAdmin outage before it stops as "interrupted".
OUTAGE_WAIT_S = 120.0


def cli_lang() -> Lang:
    """Japanese unless ``MAILMOVE_LANG`` or ``LANG`` says English (e.g. en_US.UTF-8)."""
    return normalise_lang(os.environ.get("MAILMOVE_LANG") or os.environ.get("LANG"))


def run_plan(
    args: argparse.Namespace,
    config: Config,
    desired: Desired,
    *,
    backend: Backend | None = None,
    out: TextIO | None = None,
) -> int:
    """Print what apply would change; 0 if it can run, 1 if it cannot."""
    out = out or sys.stdout
    lang = cli_lang()
    server = config.server(getattr(args, "server", None))
    own = backend is None
    backend = backend if backend is not None else _connect(server)
    try:
        plan = plan_only(backend, desired, _options(server))
    finally:
        if own:
            backend.close()
    if getattr(args, "json", False):
        print(json.dumps(plan.to_json(lang), ensure_ascii=False, indent=2), file=out)
    else:
        _print_plan(plan, lang, out)
    return EXIT_OK if plan.runnable else EXIT_PROBLEMS


def run_apply(
    args: argparse.Namespace,
    config: Config,
    desired: Desired,
    *,
    backend: Backend | None = None,
    log: JobLog | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Plan, refuse on problems or unconfirmed conflicts, else apply and verify.

    Results are saved per item in the store (``log``, default: the configured store).
    Exit 0 only if nothing failed and every listed address was verified present.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    lang = cli_lang()
    as_json = bool(getattr(args, "json", False))
    server = config.server(getattr(args, "server", None))
    options = _options(server)
    own = backend is None
    backend = backend if backend is not None else _connect(server)
    try:
        plan = plan_only(backend, desired, options)
        if not plan.runnable or (plan.conflicts and not getattr(args, "yes", False)):
            if as_json:
                print(json.dumps(plan.to_json(lang), ensure_ascii=False, indent=2), file=out)
            else:
                _print_plan(plan, lang, out)
                if plan.runnable:
                    print(t("provision.conflicts.cli_hint", lang), file=out)
            return EXIT_PROBLEMS
        job = ProvisionJob(
            backend,
            desired,
            log=log if log is not None else _store_log(config),
            options=options,
            server=server.name,
            accept_conflicts=bool(getattr(args, "yes", False)),
            outage_wait_s=OUTAGE_WAIT_S,
            plan=plan,
            on_progress=_progress_printer(err, lang) if not as_json and err.isatty() else None,
        )
        outcome = job.run()
    finally:
        if own:
            backend.close()
    if as_json:
        print(json.dumps(outcome.to_json(lang), ensure_ascii=False, indent=2), file=out)
    else:
        _print_outcome(outcome, lang, out)
    return EXIT_OK if outcome.ok else EXIT_PROBLEMS


# -- helpers ---------------------------------------------------------------------------


def _options(server: Server) -> PlanOptions:
    return PlanOptions(password_policy=server.password_policy)


def _connect(server: Server) -> Backend:
    settings = server.postfixadmin
    if settings.backend == "http" and not (settings.username and settings.password):
        raise ConfigError(
            f"servers[{server.name}].postfixadmin: username and password (password_env) "
            "are needed for plan/apply over HTTP"
        )
    return connect(settings)


def _store_log(config: Config) -> JobLog:
    from mailmove.store import Store  # imported late: the store may register migrate_jobs

    store = Store(config.store)
    store.migrate()
    # Idempotent: a no-op once store.MIGRATIONS includes migrate_jobs.
    with store.engine.begin() as conn:
        migrate_jobs(conn)
    return SqlJobLog(store.engine)


def _print_plan(plan: Plan, lang: Lang, out: TextIO) -> None:
    counts = plan.counts()
    print(
        ", ".join(f"{t(f'provision.op.{op}', lang)}: {n}" for op, n in counts.items()),
        file=out,
    )
    for action in plan.pending:
        where = f" (row {action.row})" if action.row is not None else ""
        mark = " *" if action.conflict is not None else ""
        print(f"  {action.op:<15} {action.object}{where}{mark}  {action.detail(lang)}", file=out)
    if plan.conflicts:
        print(t("provision.conflicts.title", lang, count=len(plan.conflicts)), file=out)
        live, listed = t("provision.conflicts.live", lang), t("provision.conflicts.desired", lang)
        for conflict in plan.conflicts:
            print(f"  * {conflict.object}", file=out)
            for f in conflict.fields:
                label = t(f"provision.field.{f.field}", lang)
                print(f"      {label}: {live}: {f.live} | {listed}: {f.desired}", file=out)
    if plan.warnings:
        print(t("provision.plan.warnings", lang), file=out)
        for warning in plan.warnings:
            print(f"  - {warning.message(lang)}", file=out)
    if plan.errors:
        print(t("provision.plan.refused", lang, count=len(plan.errors)), file=out)
        for error in plan.errors:
            where = f"row {error.row}: " if error.row else ""
            print(f"  - {where}{error.message(lang)}", file=out)
    elif not plan.pending:
        print(t("provision.plan.nothing", lang), file=out)
    else:
        print(t("provision.plan.ready", lang, count=len(plan.pending)), file=out)


def _print_outcome(outcome: JobOutcome, lang: Lang, out: TextIO) -> None:
    for result in outcome.results:
        if result.failed or result.warnings:
            status = t(f"provision.status.{result.status}", lang)
            print(f"  {status}: {result.op} {result.object}  {result.message}", file=out)
            for warning in result.warnings:
                print(f"      ! {warning}", file=out)
    for note in outcome.notes:
        print(f"  ! {note}", file=out)
    print(t(f"provision.state.{outcome.state}", lang), file=out)
    print(outcome.summary.text(lang), file=out)
    checks = outcome.checks
    if checks:
        present = sum(c.status == "present" for c in checks)
        missing = sum(c.status == "missing" for c in checks)
        different = sum(c.status == "different" for c in checks)
        print(
            t(
                "provision.verify.summary",
                lang,
                present=present,
                total=len(checks),
                missing=missing,
                different=different,
            ),
            file=out,
        )
        for check in checks:
            if check.status != "present":
                label = t(f"provision.check.{check.status}", lang)
                detail = f" ({check.detail})" if check.detail else ""
                print(f"  {label}: {check.address}{detail}", file=out)


def _progress_printer(err: TextIO, lang: Lang) -> Callable[[Progress], None]:
    def show(progress: Progress) -> None:
        end = "\n" if progress.finished else ""
        print(f"\r{progress.text(lang)}   ", end=end, file=err, flush=True)

    return show
