"""Address and forwarding lists: upload, understand, validate (issue #3).

Public surface; the implementation lives in small private modules::

    from mailmove.lists import read_bytes, prepare, validate, Options

    table = read_bytes(data, "社員一覧.csv")          # ListReadError if unusable
    addresses = prepare(table, "addresses")           # detected layout, or pass one
    result = validate(addresses, None, Options(domains=frozenset({"example.jp"})))
    result.mailboxes, result.forwards, result.errors, result.warnings

Nothing here imports streamlit: the page and the CLI both call these functions.
"""

from __future__ import annotations

import os
from pathlib import Path

from mailmove.lists._columns import (
    allowed_fields,
    column_letter,
    detect_layout,
    header_cells,
    header_field,
    to_input,
)
from mailmove.lists._edits import EDITABLE, apply_edits
from mailmove.lists._export import error_report_csv, file_label, neutralise, result_json
from mailmove.lists._model import (
    FIELDS,
    FORWARD_FIELDS,
    PASTED,
    Field,
    Forward,
    Issue,
    Kind,
    Layout,
    ListInput,
    ListReadError,
    ListResult,
    Mailbox,
    Options,
    Record,
    Severity,
    Table,
)
from mailmove.lists._normalise import display_address, display_domain, to_ascii_domain
from mailmove.lists._passwords import generate_password, policy_problems
from mailmove.lists._read import MAX_BYTES, MAX_ROWS, read_bytes, read_text, size_text
from mailmove.lists._validate import DEFAULT_ALIASES, validate


def prepare(table: Table, kind: Kind = "addresses", layout: Layout | None = None) -> ListInput:
    """Map a table's columns (the detected layout unless one is given) into records."""
    return to_input(table, layout or detect_layout(table, kind), kind)


def read_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES) -> Table:
    """Read a list from disk; an unreadable path is a ListReadError like any bad content."""
    name = os.fspath(path)
    try:
        size = Path(path).stat().st_size
        if size > max_bytes:
            raise ListReadError("too_large", name, size=size_text(size), max=size_text(max_bytes))
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ListReadError("unreadable", name, reason=exc.strerror or type(exc).__name__) from None
    return read_bytes(data, name, max_bytes=max_bytes)


def check_files(
    addresses: str | os.PathLike[str],
    forwards: str | os.PathLike[str] | None = None,
    options: Options | None = None,
) -> ListResult:
    """Read, map (detected layout) and validate the lists, as the CLI does."""
    address_input = prepare(read_file(addresses), "addresses")
    forward_input = prepare(read_file(forwards), "forwards") if forwards is not None else None
    return validate(address_input, forward_input, options)


__all__ = [
    "DEFAULT_ALIASES",
    "EDITABLE",
    "FIELDS",
    "FORWARD_FIELDS",
    "MAX_BYTES",
    "MAX_ROWS",
    "PASTED",
    "Field",
    "Forward",
    "Issue",
    "Kind",
    "Layout",
    "ListInput",
    "ListReadError",
    "ListResult",
    "Mailbox",
    "Options",
    "Record",
    "Severity",
    "Table",
    "allowed_fields",
    "apply_edits",
    "check_files",
    "column_letter",
    "detect_layout",
    "display_address",
    "display_domain",
    "error_report_csv",
    "file_label",
    "generate_password",
    "header_cells",
    "header_field",
    "neutralise",
    "policy_problems",
    "prepare",
    "read_bytes",
    "read_file",
    "read_text",
    "result_json",
    "size_text",
    "to_ascii_domain",
    "to_input",
    "validate",
]
