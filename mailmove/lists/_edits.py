"""Cells fixed in the review table, applied to the mapped records before validating again.

Edits are keyed by the spreadsheet row number, so they survive re-validation and
filtering; a field the file had no column for gets one (e.g. a password typed in).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from mailmove.lists._model import ListInput, Record

EDITABLE = ("address", "password", "name", "quota", "targets", "keep_copy")


def apply_edits(source: ListInput, edits: Mapping[int, Mapping[str, str]]) -> ListInput:
    """The same list with ``edits[row][field]`` replacing those cells."""
    if not edits:
        return source
    records: list[Record] = []
    for record in source.records:
        change = {k: v for k, v in edits.get(record.row, {}).items() if k in EDITABLE}
        if change:
            if "password" in change:
                change_any: dict[str, object] = {**change, "password_was_number": False}
                record = dataclasses.replace(record, **change_any)  # type: ignore[arg-type]
            else:
                record = dataclasses.replace(record, **change)  # type: ignore[arg-type]
        records.append(record)
    columns = dict(source.columns)
    for fields in edits.values():
        for name in fields:
            columns.setdefault(name, "")
    return dataclasses.replace(source, records=tuple(records), columns=columns)
