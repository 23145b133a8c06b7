"""The postfixadmin-cli backend gives the same result as the HTTP one (real PFA)."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
from collections.abc import Sequence
from typing import Any

import pytest

from mailmove.apply import ProvisionJob, plan_only
from mailmove.plan import Desired
from mailmove.postfixadmin import PostfixAdminCli, PostfixAdminClient, Rejected
from mailmove.testbed.postfixadmin import PostfixAdminInstance
from tests.desired import Fwd, Mbx

pytestmark = pytest.mark.integration


PASSWORDS = ("Cli4Secret77", "Cli5Secret88")


def cli_backend(
    instance: PostfixAdminInstance, argv_log: list[Sequence[str]] | None = None
) -> PostfixAdminCli:
    """This instance's own CLI, run the way PostfixAdminInstance.cli runs it."""

    def runner(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        if argv_log is not None:
            argv_log.append(argv)
        return subprocess.run(
            list(argv),
            cwd=instance.base_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )

    return PostfixAdminCli(
        instance.tree / "scripts" / "postfixadmin-cli.php",
        php_args=("-d", f"session.save_path={instance.sessions_dir}"),
        runner=runner,
    )


def desired_for(domain: str) -> Desired:
    return Desired(
        mailboxes=[
            Mbx(f"anna@{domain}", "山田 花子", PASSWORDS[0], row=2),
            Mbx(f"ben@{domain}", "Ben O'Brien", PASSWORDS[1], row=3),
        ],
        forwards=[
            Fwd(f"anna@{domain}", ("anna@home.example",), keep_copy=True, row=4),
            Fwd(f"ben@{domain}", ("ben@home.example",), keep_copy=False, row=5),
            Fwd(f"team@{domain}", (f"anna@{domain}", f"ben@{domain}"), row=6),
            Fwd(f"@{domain}", (f"anna@{domain}",), catch_all=True, row=7),
        ],
    )


def snapshot(instance: PostfixAdminInstance, domain: str) -> dict[str, Any]:
    """What PFA stored, with the domain name replaced so two domains compare equal."""
    with sqlite3.connect(instance.db_path) as conn:
        mailboxes = sorted(
            conn.execute(
                "SELECT username, name, quota, active, maildir FROM mailbox WHERE domain = ?",
                (domain,),
            )
        )
        aliases = sorted(
            (a, ",".join(sorted(g.split(","))), act)
            for a, g, act in conn.execute(
                "SELECT address, goto, active FROM alias WHERE domain = ?", (domain,)
            )
        )
        (domain_row,) = conn.execute(
            "SELECT aliases, mailboxes, active, backupmx FROM domain WHERE domain = ?", (domain,)
        )
    return json.loads(
        json.dumps({"m": mailboxes, "a": aliases, "d": domain_row}).replace(domain, "D")
    )


def test_cli_backend_matches_http_and_is_idempotent(
    pfa: PostfixAdminInstance, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http = PostfixAdminClient(pfa.url)
    http.login(pfa.superadmin, pfa.superadmin_password)
    argv_log: list[Sequence[str]] = []
    cli = cli_backend(pfa, argv_log)

    by_http = ProvisionJob(http, desired_for("via-http.test")).run()
    by_cli = ProvisionJob(cli, desired_for("via-cli.test")).run()
    again = plan_only(cli, desired_for("via-cli.test"))

    assert by_http.ok, by_http.to_json("en")
    assert by_cli.ok, by_cli.to_json("en")
    assert [(r.op, r.status) for r in by_cli.results] == [(r.op, r.status) for r in by_http.results]
    assert snapshot(pfa, "via-cli.test") == snapshot(pfa, "via-http.test")
    assert {a.op for a in again.actions} == {"skip"}
    # Passwords only ever travel in the CLI's argv (documented), never into our output.
    assert any(PASSWORDS[0] in a for argv in argv_log for a in argv)
    text = json.dumps(by_cli.to_json("en"), ensure_ascii=False) + caplog.text
    assert not any(p in text for p in PASSWORDS)


def test_cli_backend_refusals_are_structured_and_scrubbed(pfa: PostfixAdminInstance) -> None:
    cli = cli_backend(pfa)
    pfa.add_domain("cli-errors.test")

    with pytest.raises(Rejected, match="too short") as weak:
        cli.create_mailbox("weak@cli-errors.test", "ab1")
    with pytest.raises(Rejected, match="starts with '-'") as dash:
        cli.create_mailbox("dash@cli-errors.test", "-Secret123")
    cli.create_alias("x@cli-errors.test", ["y@else.example"])
    with pytest.raises(Rejected) as dup:
        cli.create_alias("x@cli-errors.test", ["y@else.example"])

    assert "ab1" not in str(weak.value)
    assert "Secret123" not in str(dash.value)
    assert dup.value.already_exists
    assert cli.view_alias("nope@cli-errors.test") is None
    assert cli.view_domain("nope.test") is None
