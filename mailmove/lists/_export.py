"""What leaves the app: the error report CSV and the CLI's JSON, never a password.

The CSV opens right in Japanese Excel (UTF-8 with a BOM) and cannot run anything
there: a cell starting with = + - @ (or a tab or carriage return) gets a leading
apostrophe, so Excel shows it as text instead of evaluating a formula.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from mailmove.i18n import Lang, t
from mailmove.lists._model import PASTED, Issue, ListResult

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A cell that Excel would read as a formula becomes plain text."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def file_label(file: str, lang: Lang) -> str:
    return t("lists.source.pasted", lang) if file == PASTED else file


def error_report_csv(result: ListResult, lang: Lang) -> bytes:
    """Every error and warning, one per line, in the customer's language."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            t("lists.col.file", lang),
            t("lists.col.row", lang),
            t("lists.col.column", lang),
            t("lists.col.severity", lang),
            t("lists.col.code", lang),
            t("lists.col.message", lang),
        ]
    )
    for issue in (*result.errors, *result.warnings):
        writer.writerow(
            neutralise(str(cell))
            for cell in (
                file_label(issue.file, lang),
                issue.row or "",
                issue.column,
                t(f"lists.severity.{issue.severity}", lang),
                issue.code,
                issue.message(lang),
            )
        )
    return out.getvalue().encode("utf-8-sig")


def issue_json(issue: Issue, lang: Lang) -> dict[str, Any]:
    return {
        "file": issue.file,
        "row": issue.row,
        "column": issue.column,
        "code": issue.code,
        "message": issue.message(lang),
    }


def result_json(result: ListResult, lang: Lang) -> dict[str, Any]:
    """The CLI's --json object: punycode lower-case addresses, has_password instead of one."""
    return {
        "mailboxes": [
            {
                "address": m.address,
                "name": m.name,
                "row": m.row,
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
            }
            for f in result.forwards
        ],
        "errors": [issue_json(i, lang) for i in result.errors],
        "warnings": [issue_json(i, lang) for i in result.warnings],
    }
