"""Benchmark (issue #8): 5,000 users → every instruction page and the ZIP.

Goal: at most 10 s and 500 MB peak memory. Two runs, each in a fresh process so the
peak RSS of one does not hide the other:

* ``files``: what ``mailmove instructions`` does: pages + setup files written to a
  folder and into ``instructions.zip`` on disk;
* ``memory``: what the app's ZIP download does: the whole ZIP built in memory.

Run:  .venv/bin/python bench/bench_instructions.py [--users 5000] [--lang ja]
Prints one JSON line per run and exits 1 if a goal is missed. ``seconds`` is wall
time (the goal); ``cpu_seconds`` shows how much of it was this process, which helps
when other work shares the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

GOAL_SECONDS = 10.0
GOAL_PEAK_MB = 500.0
_FAMILY = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"]
_GIVEN = ["太郎", "花子", "一郎", "美咲", "健太", "由美", "翔", "愛", "大輔", "さくら"]


@dataclass(frozen=True)
class User:
    address: str
    name: str
    password: str = field(repr=False)
    generated_password: bool


def users(count: int, seed: int = 8) -> list[User]:
    rng = random.Random(seed)
    domains = [f"customer{n}.example.jp" for n in range(5)]
    return [
        User(
            address=f"user{i:05d}@{domains[i % len(domains)]}",
            name=f"{rng.choice(_FAMILY)} {rng.choice(_GIVEN)}",
            password=f"Pw-{rng.randrange(10**8):08d}-ab",
            generated_password=i % 10 == 0,
        )
        for i in range(count)
    ]


def run_once(mode: str, count: int, lang: str) -> dict[str, object]:
    """One measured run in this process (called in a child process by main())."""
    from mailmove.config import demo_config
    from mailmove.oldmail import (
        NewServer,
        PageSettings,
        build_zip,
        compute_timing,
        parse_switch_at,
        write_bundle,
    )

    tz = "Asia/Tokyo"
    population = users(count)
    settings = PageSettings(
        old_host="sv1234.xserver.jp",
        timing=compute_timing(parse_switch_at("2026-12-01T14:00", tz), tz),
        new_server=NewServer.from_config(demo_config().server()),
        lang=lang,  # type: ignore[arg-type]
        include_generated_passwords=True,
    )
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_start = time.process_time()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        if mode == "files":
            out = Path(tmp)
            entries = write_bundle(population, settings, out / "instructions.zip", out_dir=out)
            zip_bytes = (out / "instructions.zip").stat().st_size
            pages = len(entries)
        else:
            data = build_zip(population, settings)
            zip_bytes, pages = len(data), count
        seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "mode": mode,
        "users": count,
        "lang": lang,
        "pages": pages,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "peak_rss_mb": round(peak_mb, 1),
        "rss_before_mb": round(base_mb, 1),
        "zip_mb": round(zip_bytes / 1e6, 1),
        "ok": seconds <= GOAL_SECONDS and peak_mb <= GOAL_PEAK_MB,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--lang", choices=("ja", "en"), default="ja")
    parser.add_argument("--mode", choices=("files", "memory"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:  # the child: measure one run
        print(json.dumps(run_once(args.mode, args.users, args.lang), ensure_ascii=False))
        return 0
    ok = True
    for mode in ("files", "memory"):
        cmd = [sys.executable, __file__, "--mode", mode, "--users", str(args.users)]
        child = subprocess.run(
            [*cmd, "--lang", args.lang], capture_output=True, text=True, check=False
        )
        if child.returncode != 0:
            print(child.stderr, file=sys.stderr)
            return 2
        line = child.stdout.strip().splitlines()[-1]
        print(line)
        ok = ok and json.loads(line)["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
