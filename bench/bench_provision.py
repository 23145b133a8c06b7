"""Benchmark: provisioning 2,000 mailboxes + 2,000 forwards into a fresh PostfixAdmin.

Three variants, each into its own fresh PostfixAdmin 3.3.13 (SQLite, ``php -S``, the
test bed of mailmove.testbed.postfixadmin), in one run:

* ``ours``  — mailmove's engine: ``ProvisionJob`` over ``PostfixAdminClient`` (reads the
  live state, plans, applies; verification timed separately).
* ``cli``   — what support staff do today: a shell ``while read`` loop running
  ``postfixadmin-cli`` once per item.
* ``floor`` — PostfixAdmin's own floor: the very same form POSTs sent bare with
  ``requests`` (one session, no reading, no planning, no parsing).

The work: one domain; N mailboxes (Japanese display names); forwards split half and
half into keep-a-copy forwarding on listed mailboxes (the mailbox's own alias is
edited) and forward-only aliases. Every variant's result is checked in the database.

``ours`` and ``floor`` run in child processes so each one's peak RSS is its own.
Reported per variant: wall seconds, CPU seconds (client + the PHP server; for the CLI
loop, all its processes) and the 1-minute load around the run. On a shared machine the
wall times move with other people's load; the CPU figures are the steadier comparison.

Usage (from the repository root)::

    .venv/bin/python bench/bench_provision.py                 # 2000 + 2000
    .venv/bin/python bench/bench_provision.py --mailboxes 200 --forwards 200
    .venv/bin/python bench/bench_provision.py --json

Goals (issue #4): ours ≥ 3x faster than the CLI loop, ≤ 1.3x the floor, ≤ 300 MB peak.
This is not a test; it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DOMAIN = "bench.test"


# -- the workload --------------------------------------------------------------------------


@dataclass(frozen=True)
class Mbx:
    address: str
    name: str
    password: str = field(repr=False)
    quota_mb: int | None = None
    row: int = 0
    generated_password: bool = False


@dataclass(frozen=True)
class Fwd:
    address: str
    targets: tuple[str, ...]
    keep_copy: bool = False
    catch_all: bool = False
    row: int = 0


def workload(mailboxes: int, forwards: int) -> tuple[list[Mbx], list[Fwd]]:
    boxes = [
        Mbx(f"user{i:05d}@{DOMAIN}", f"利用者 {i:05d}", f"Bench{i:05d}pw", row=i + 2)
        for i in range(mailboxes)
    ]
    copies = min(forwards // 2, mailboxes)
    fwds = [
        Fwd(f"user{i:05d}@{DOMAIN}", (f"user{i:05d}@home.example",), keep_copy=True, row=i + 2)
        for i in range(copies)
    ]
    fwds += [
        Fwd(
            f"list{i:05d}@{DOMAIN}",
            (f"user{i % max(mailboxes, 1):05d}@{DOMAIN}", "boss@else.example"),
            row=copies + i + 2,
        )
        for i in range(forwards - copies)
    ]
    return boxes, fwds


# -- child processes -----------------------------------------------------------------------


def child_ours(url: str, user: str, password: str, n_mb: int, n_fwd: int) -> dict[str, Any]:
    from mailmove.apply import ProvisionJob
    from mailmove.plan import Desired
    from mailmove.postfixadmin import PostfixAdminClient

    boxes, fwds = workload(n_mb, n_fwd)
    desired = Desired(mailboxes=boxes, forwards=fwds)
    started, cpu_started = time.perf_counter(), time.process_time()
    client = PostfixAdminClient(url, timeout=30)
    client.login(user, password)
    outcome = ProvisionJob(client, desired, verify=False).run()
    applied, cpu_applied = time.perf_counter(), time.process_time()
    summary = outcome.summary
    return {
        "apply_s": applied - started,
        "client_cpu_s": cpu_applied - cpu_started,
        "state": outcome.state,
        "created": summary.created,
        "updated": summary.updated,
        "failed": summary.failed,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_verify(url: str, user: str, password: str, n_mb: int, n_fwd: int) -> dict[str, Any]:
    """mailmove's read-back of every listed address (timed apart from the apply)."""
    from mailmove.plan import Desired, read_live, verify
    from mailmove.postfixadmin import PostfixAdminClient

    boxes, fwds = workload(n_mb, n_fwd)
    desired = Desired(mailboxes=boxes, forwards=fwds)
    started = time.perf_counter()
    client = PostfixAdminClient(url, timeout=30)
    client.login(user, password)
    checks = verify(desired, read_live(client, desired))
    return {
        "verify_s": time.perf_counter() - started,
        "present": sum(c.status == "present" for c in checks),
        "checks": len(checks),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_floor(url: str, user: str, password: str, n_mb: int, n_fwd: int) -> dict[str, Any]:
    import requests

    boxes, fwds = workload(n_mb, n_fwd)
    mailbox_set = {b.address for b in boxes}
    started, cpu_started = time.perf_counter(), time.process_time()
    s = requests.Session()
    token_re = re.compile(r'name="token"\s+value="([0-9A-Za-z]+)"')
    page = s.get(url + "login.php")
    token = token_re.search(page.text).group(1)  # type: ignore[union-attr]
    s.post(
        url + "login.php",
        data={
            "token": token,
            "fUsername": user,
            "fPassword": password,
            "lang": "en",
            "submit": "Login",
        },
        allow_redirects=False,
    )
    token = token_re.search(s.get(url + "edit.php?table=alias").text).group(1)  # type: ignore[union-attr]
    bad = 0

    def post(data: dict[str, str]) -> None:
        nonlocal bad
        resp = s.post(url + "edit.php", data={**data, "token": token}, allow_redirects=False)
        bad += resp.status_code != 302

    post(
        {
            "table": "domain",
            "value[domain]": DOMAIN,
            "value[description]": "",
            "value[aliases]": "0",
            "value[mailboxes]": "0",
            "value[active]": "1",
            "value[password_expiry]": "365",
        }
    )
    for b in boxes:
        local, domain = b.address.split("@")
        post(
            {
                "table": "mailbox",
                "value[local_part]": local,
                "value[domain]": domain,
                "value[password]": b.password,
                "value[password2]": b.password,
                "value[name]": b.name,
                "value[quota]": "0",
                "value[active]": "1",
            }
        )
    for f in fwds:
        if f.address in mailbox_set:
            post(
                {
                    "table": "alias",
                    "edit": f.address,
                    "value[goto]": ",".join(f.targets),
                    "value[goto_mailbox]": "1",
                    "value[active]": "1",
                }
            )
        else:
            local, domain = f.address.split("@")
            post(
                {
                    "table": "alias",
                    "value[localpart]": local,
                    "value[domain]": domain,
                    "value[goto]": ",".join(f.targets),
                    "value[active]": "1",
                }
            )
    return {
        "apply_s": time.perf_counter() - started,
        "client_cpu_s": time.process_time() - cpu_started,
        "not_302": bad,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# -- the CLI loop --------------------------------------------------------------------------

CLI_LOOP = r"""#!/usr/bin/env bash
# What support staff do today: one postfixadmin-cli call per line of a list.
set -u
cli() {
  php -q -d "session.save_path=$SESSIONS" "$CLI" "$@" </dev/null >/dev/null 2>>"$ERRLOG" \
    || echo x >>"$FAILS"
}
cli domain add "$DOMAIN" --aliases 0 --mailboxes 0 --active 1 --default-aliases 0
while IFS=$'\t' read -r kind address a b; do
  case "$kind" in
    mailbox) cli mailbox add "$address" --password "$a" --password2 "$a" --name "$b" \
               --quota 0 --active 1 --welcome-mail 0 ;;
    copy)    cli alias update "$address" --goto "$a" --goto-mailbox 1 ;;
    alias)   cli alias add "$address" --goto "$a" --active 1 ;;
  esac
done <"$DATA"
"""


def run_cli_loop(instance: Any, work: Path, n_mb: int, n_fwd: int) -> dict[str, Any]:
    boxes, fwds = workload(n_mb, n_fwd)
    mailbox_set = {b.address for b in boxes}
    data = work / "cli-data.tsv"
    lines = [f"mailbox\t{b.address}\t{b.password}\t{b.name}" for b in boxes]
    lines += [
        f"{'copy' if f.address in mailbox_set else 'alias'}\t{f.address}\t{','.join(f.targets)}\t-"
        for f in fwds
    ]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    script = work / "cli-loop.sh"
    script.write_text(CLI_LOOP)
    fails = work / "cli-fails"
    env = {
        **os.environ,
        "CLI": str(instance.tree / "scripts" / "postfixadmin-cli.php"),
        "SESSIONS": str(instance.sessions_dir),
        "DOMAIN": DOMAIN,
        "DATA": str(data),
        "ERRLOG": str(work / "cli-stderr.log"),
        "FAILS": str(fails),
    }
    started, cpu_started = time.perf_counter(), children_cpu_s()
    subprocess.run(["bash", str(script)], cwd=instance.base_dir, env=env, check=True)
    elapsed = time.perf_counter() - started
    cli_cpu = children_cpu_s() - cpu_started
    failed = len(fails.read_text().splitlines()) if fails.exists() else 0
    return {"apply_s": elapsed, "client_cpu_s": cli_cpu, "failed_calls": failed}


# -- CPU accounting --------------------------------------------------------------------------
#
# The machine may be shared, so wall times move with other people's load. CPU seconds
# (client + PHP) are reported too: they measure the work each variant makes the
# machine do and are much less sensitive to contention.

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int, *, reaped: bool) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[11..14] = utime stime cutime cstime (man 5 proc, counted after the name)
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def server_cpu_s(instance: Any) -> float:
    """CPU seconds of the instance's ``php -S`` master and its worker processes so far."""
    proc = getattr(instance, "_process", None)  # the test bed's Popen of php -S
    if proc is None:
        return 0.0
    total = _proc_cpu(proc.pid, reaped=True)
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(_proc_cpu(int(c), reaped=True) for c in children)


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- checking and reporting ----------------------------------------------------------------


def db_check(instance: Any, n_mb: int, n_fwd: int) -> dict[str, Any]:
    boxes, fwds = workload(n_mb, n_fwd)
    with sqlite3.connect(instance.db_path) as conn:
        mailboxes = dict(conn.execute("SELECT username, name FROM mailbox"))
        aliases = {a: set(g.split(",")) for a, g in conn.execute("SELECT address, goto FROM alias")}
    expected = {b.address: {b.address} for b in boxes}
    for f in fwds:
        expected[f.address] = set(f.targets) | ({f.address} if f.keep_copy else set())
    names_ok = all(mailboxes.get(b.address) == b.name for b in boxes)
    return {
        "mailboxes": len(mailboxes),
        "alias_rows": len(aliases),
        "exact": names_ok and aliases == expected and len(mailboxes) == len(boxes),
    }


def fresh_instance(root: Path, name: str) -> Any:
    from mailmove.testbed.postfixadmin import PostfixAdminInstance

    instance = PostfixAdminInstance(base_dir=root / name, cache_dir=REPO / ".cache")
    instance.prepare()
    instance.start()
    return instance


def run_child(variant: str, instance: Any, n_mb: int, n_fwd: int) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            variant,
            "--url",
            instance.url,
            "--mailboxes",
            str(n_mb),
            "--forwards",
            str(n_fwd),
        ],
        env={
            **os.environ,
            "BENCH_PFA_USER": instance.superadmin,
            "BENCH_PFA_PW": instance.superadmin_password,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=2000)
    parser.add_argument("--forwards", type=int, default=2000)
    parser.add_argument("--only", default="floor,ours,cli", help="comma-separated variants")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=("ours", "floor", "verify"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n_mb, n_fwd = args.mailboxes, args.forwards

    if args.child:
        user, pw = os.environ["BENCH_PFA_USER"], os.environ["BENCH_PFA_PW"]
        run = {"ours": child_ours, "floor": child_floor, "verify": child_verify}[args.child]
        print(json.dumps(run(args.url, user, pw, n_mb, n_fwd)))
        return 0

    variants = [v.strip() for v in args.only.split(",") if v.strip()]
    report: dict[str, Any] = {
        "mailboxes": n_mb,
        "forwards": n_fwd,
        "items": n_mb + n_fwd + 1,
        "load_before": os.getloadavg(),
        "cpus": os.cpu_count(),
        "variants": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-provision-") as tmp:
        root = Path(tmp)
        for variant in variants:
            instance = fresh_instance(root, variant)
            load_before = os.getloadavg()[0]
            server_before = server_cpu_s(instance)
            try:
                if variant == "cli":
                    result = run_cli_loop(instance, root, n_mb, n_fwd)
                else:
                    result = run_child(variant, instance, n_mb, n_fwd)
                result["server_cpu_s"] = server_cpu_s(instance) - server_before
                result["cpu_s"] = result["client_cpu_s"] + (
                    result["server_cpu_s"] if variant != "cli" else 0.0
                )
                if variant == "ours":
                    result["verify"] = run_child("verify", instance, n_mb, n_fwd)
                result["db"] = db_check(instance, n_mb, n_fwd)
            finally:
                instance.stop()
            result["ms_per_item"] = result["apply_s"] * 1000 / report["items"]
            # The 1-minute load around the run: other work on the machine skews wall times.
            result["load1"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            report["variants"][variant] = result
            if not args.json:
                print(f"{variant:>5}: {result['apply_s']:7.1f} s  {json.dumps(result)}", flush=True)
    report["load_after"] = os.getloadavg()
    v = report["variants"]
    if "ours" in v and "cli" in v:
        report["cli_over_ours"] = v["cli"]["apply_s"] / v["ours"]["apply_s"]
        report["cli_over_ours_cpu"] = v["cli"]["cpu_s"] / v["ours"]["cpu_s"]
    if "ours" in v and "floor" in v:
        report["ours_over_floor"] = v["ours"]["apply_s"] / v["floor"]["apply_s"]
        report["ours_over_floor_cpu"] = v["ours"]["cpu_s"] / v["floor"]["cpu_s"]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"load average before {report['load_before']}, after {report['load_after']}")
        if "cli_over_ours" in report:
            print(
                f"CLI loop / ours = {report['cli_over_ours']:.2f}x wall, "
                f"{report['cli_over_ours_cpu']:.2f}x CPU (goal >= 3)"
            )
        if "ours_over_floor" in report:
            print(
                f"ours / floor    = {report['ours_over_floor']:.2f}x wall, "
                f"{report['ours_over_floor_cpu']:.2f}x CPU (goal <= 1.3)"
            )
        if "ours" in v:
            print(f"ours peak RSS   = {v['ours']['maxrss_mb']:.0f} MB (goal <= 300)")
            check = v["ours"]["verify"]
            print(
                f"verify          = {check['present']}/{check['checks']} present "
                f"in {check['verify_s']:.1f} s (peak RSS {check['maxrss_mb']:.0f} MB)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
