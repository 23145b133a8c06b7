"""Benchmark: parse and validate a 50,000-row CP932 address list with forwards.

Goal (issue #3): at most 2 s and 500 MB peak on the 2-core machine. Each measurement
runs in a fresh Python process, so imports are counted and one run cannot warm the
next one's caches; peak memory is the process's max RSS (what the machine must
have) and, in a separate run, tracemalloc's peak of Python allocations.

    .venv/bin/python bench/bench_lists.py [--rows 50000] [--runs 3]

Not a test: it prints figures for docs/benchmarks.md. Wall time is the goal; CPU time
is printed too, because a busy machine stretches wall time but not CPU time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 2.0
GOAL_MB = 500.0

SURNAMES = ["山田", "髙橋", "佐藤", "鈴木", "田中", "渡辺", "伊藤", "中村", "小林", "加藤"]
GIVEN = ["太郎", "花子", "一郎", "美咲", "健", "愛", "翔太", "陽菜", "蓮", "結衣"]
TARGET_DOMAINS = ["example.com", "example.net", "docomo.ne.jp", "ezweb.ne.jp"]


def generate(rows: int, seed: int = 3) -> bytes:
    """A realistic list: Japanese names (with ① ㈱ 髙), quotas, every 5th row forwards.

    About 1 % of rows carry a typical mistake (short password, full-width address,
    an old mobile target, a duplicate) so the error paths are measured too.
    """
    rng = random.Random(seed)
    lines = ["メールアドレス,パスワード,氏名,容量,転送先,転送時に残す"]
    for i in range(rows):
        address = f"user{i:06d}@yamada-shoji.test"
        password = f"Pw{rng.randrange(10**8):08d}xy"
        name = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"
        if i % 97 == 0:
            name += " ①"
        if i % 89 == 0:
            name = "㈱" + name
        quota = rng.choice(["", "1000", "2GB", "500", "無制限"])
        targets, keep = "", ""
        if i % 5 == 0:
            domain = rng.choice(TARGET_DOMAINS)
            targets = f'"fwd{i}@{domain},boss@example.com"'
            keep = rng.choice(["残す", "残さない", ""])
        if i % 100 == 1:
            password = "ab"  # noqa: S105 - a deliberately weak test password
        if i % 100 == 2:
            address = "ｆｕｌｌ" + address
        if i % 100 == 3:
            targets, keep = f"tar.o{i}.@docomo.ne.jp", "残す"
        if i % 100 == 4 and i > 10:
            address = f"user{i - 10:06d}@yamada-shoji.test"
        lines.append(",".join([address, password, name, quota, targets, keep]))
    return ("\r\n".join(lines) + "\r\n").encode("cp932")


CHILD = r"""
import json, resource, sys, time
mode, path = sys.argv[1], sys.argv[2]
if mode == "tracemalloc":
    import tracemalloc
    tracemalloc.start()
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
from mailmove.lists import Options, prepare, read_bytes, validate
t1 = time.perf_counter()
c1 = time.process_time()
data = open(path, "rb").read()
table = read_bytes(data, "bench.csv")
t2 = time.perf_counter()
source = prepare(table, "addresses")
t3 = time.perf_counter()
result = validate(source, None, Options(domains=frozenset({"yamada-shoji.test"})))
t4 = time.perf_counter()
c4 = time.process_time()
out = {
    "cpu_s": c4 - c1,
    "import_s": t1 - t0, "read_s": t2 - t1, "map_s": t3 - t2, "validate_s": t4 - t3,
    "total_s": t4 - t1, "rss_start_mb": rss0 / 1024,
    "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "mailboxes": len(result.mailboxes), "forwards": len(result.forwards),
    "errors": len(result.errors), "warnings": len(result.warnings),
}
if mode == "tracemalloc":
    out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1024 / 1024
print(json.dumps(out))
"""


def child(mode: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "addresses-cp932.csv"
        path.write_bytes(generate(opts.rows))
        size_mb = path.stat().st_size / 1024 / 1024
        runs = [child("plain", path) for _ in range(opts.runs)]
        traced = child("tracemalloc", path)
    total = statistics.median(r["total_s"] for r in runs)
    peak = max(r["rss_peak_mb"] for r in runs)
    first = runs[0]
    print(f"input: {opts.rows:,} rows, CP932, {size_mb:.1f} MB, every 5th row with forwards")
    print(
        f"model: {first['mailboxes']:,} mailboxes, {first['forwards']:,} forwards, "
        f"{first['errors']:,} errors, {first['warnings']:,} warnings"
    )
    print()
    print(f"{'measure':<42} {'value':>10} {'goal':>8}")
    print(f"{'-' * 42} {'-' * 10} {'-' * 8}")
    rows = [
        ("read + decode + parse, median (s)", statistics.median(r["read_s"] for r in runs), ""),
        ("column mapping, median (s)", statistics.median(r["map_s"] for r in runs), ""),
        ("validation, median (s)", statistics.median(r["validate_s"] for r in runs), ""),
        (
            f"parse + validate, median of {opts.runs} (s)",
            total,
            f"≤ {GOAL_S:g}",
        ),
        ("parse + validate, slowest (s)", max(r["total_s"] for r in runs), ""),
        ("parse + validate, CPU time, median (s)", statistics.median(r["cpu_s"] for r in runs), ""),
        ("import mailmove.lists, median (s)", statistics.median(r["import_s"] for r in runs), ""),
        ("peak RSS of the process (MB)", peak, f"≤ {GOAL_MB:g}"),
        ("  of which before any work (MB)", first["rss_start_mb"], ""),
        ("tracemalloc peak, Python objects (MB)", traced["tracemalloc_peak_mb"], ""),
    ]
    for label, value, goal in rows:
        print(f"{label:<42} {value:>10.2f} {goal:>8}")
    ok = total <= GOAL_S and peak <= GOAL_MB
    print()
    print("goal met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
