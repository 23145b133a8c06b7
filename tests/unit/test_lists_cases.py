"""Data-driven cases, black-style: every input file in tests/data/lists has its expected model.

``<case>.<csv|tsv|txt|xlsx|xls>`` is the address list (``.txt`` = text pasted into the
page), ``<case>.forwards.<ext>`` an optional forwarding list, and ``<case>.expected.json``
holds the options, then either the ``read_error`` or the mailboxes, forwards, errors and
warnings (file, row, column, code, params). Passwords are never in the expectations.
CP932 and UTF-16 inputs are edited through iconv (``iconv -f cp932 -t utf-8`` and back);
the .xlsx inputs come from ``make_xlsx.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailmove.config import PasswordPolicy
from mailmove.lists import (
    ListReadError,
    ListResult,
    Options,
    prepare,
    read_bytes,
    read_text,
    validate,
)

DATA = Path(__file__).parents[1] / "data" / "lists"
INPUTS = (".csv", ".tsv", ".txt", ".xlsx", ".xls")
CASES = sorted(p for p in DATA.iterdir() if p.suffix in INPUTS and ".forwards." not in p.name)


def load(path: Path, kind: str, max_bytes: int | None) -> Any:
    if path.suffix == ".txt":
        table = read_text(path.read_text(encoding="utf-8"))
    else:
        extra = {"max_bytes": max_bytes} if max_bytes else {}
        table = read_bytes(path.read_bytes(), path.name, **extra)
    return prepare(table, kind)  # type: ignore[arg-type]


def options_from(spec: dict[str, Any]) -> Options:
    domains = spec.get("domains")
    return Options(
        domains=frozenset(domains) if domains is not None else None,
        policy=PasswordPolicy(**spec.get("policy", {})),
        generate_passwords=spec.get("generate_passwords", False),
        default_aliases=spec.get("default_aliases", True),
    )


def project(result: ListResult) -> dict[str, Any]:
    """The model as plain data, in the shape of the .expected.json files."""

    def issues(items: Any) -> list[dict[str, Any]]:
        return [
            {
                "file": i.file,
                "row": i.row,
                "column": i.column,
                "code": i.code,
                "params": dict(i.params),
            }
            for i in items
        ]

    return {
        "mailboxes": [
            {
                "address": m.address,
                "name": m.name,
                "row": m.row,
                "quota_mb": m.quota_mb,
                "has_password": bool(m.password),
                "generated_password": m.generated_password,
            }
            for m in result.mailboxes
        ],
        "forwards": [
            {
                "address": f.address,
                "targets": list(f.targets),
                "keep_copy": f.keep_copy,
                "catch_all": f.catch_all,
                "row": f.row,
                "file": f.file,
            }
            for f in result.forwards
        ],
        "errors": issues(result.errors),
        "warnings": issues(result.warnings),
    }


def run_case(path: Path, spec: dict[str, Any]) -> dict[str, Any]:
    max_bytes = spec.get("max_bytes")
    forwards_path = next(DATA.glob(f"{path.stem}.forwards.*"), None)
    try:
        addresses = load(path, "addresses", max_bytes)
        forwards = load(forwards_path, "forwards", max_bytes) if forwards_path else None
    except ListReadError as exc:
        return {"read_error": {"file": exc.file, "code": exc.code, "params": exc.params}}
    return project(validate(addresses, forwards, options_from(spec)))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_case(path: Path) -> None:
    expected = json.loads(path.with_name(f"{path.stem}.expected.json").read_text("utf-8"))
    spec = expected.pop("options", {})
    actual = run_case(path, spec)
    assert actual == expected


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_every_finding_reads_well_in_both_languages(path: Path) -> None:
    spec = json.loads(path.with_name(f"{path.stem}.expected.json").read_text("utf-8"))
    actual = run_case(path, spec.get("options", {}))
    if "read_error" in actual:
        err = ListReadError(actual["read_error"]["code"], **actual["read_error"]["params"])
        texts = [err.message("ja"), err.message("en")]
    else:
        from mailmove.lists import Issue

        found = [Issue(**i, severity="error") for i in actual["errors"]]
        found += [Issue(**i, severity="warning") for i in actual["warnings"]]
        texts = [i.message(lang) for i in found for lang in ("ja", "en")]
    assert all(text and "{" not in text for text in texts)


def test_every_case_has_its_expectation() -> None:
    assert len(CASES) >= 30
    for path in CASES:
        assert path.with_name(f"{path.stem}.expected.json").exists(), path.name
