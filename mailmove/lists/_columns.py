"""Which column holds what: header names in Japanese and English, else the cells themselves.

The guess only pre-fills the mapping screen (like cPanel's importer); the customer
can change every column. The CLI has no screen, so there the guess is final.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from mailmove.lists._model import (
    FIELDS,
    FORWARD_FIELDS,
    Field,
    Kind,
    Layout,
    ListInput,
    ListReadError,
    Record,
    Table,
)
from mailmove.lists._normalise import parse_keep_copy, parse_quota

_HEADER_SCAN = 10  # title rows above the header are common in hand-made sheets
_SAMPLE = 200
_PUNCT = re.compile(r"[\s\-_./・:：()（）\[\]【】「」*＊※]+")

# Exact names (after folding width, case, spaces and punctuation), then fragments.
_EXACT: dict[str, Field] = {}
for _field, _names in {
    "address": (
        "メールアドレス mailaddress アドレス address eメール eメールアドレス email mail "
        "emailaddress メール 転送元 転送元アドレス 転送元メールアドレス source from"
    ),
    "password": "パスワード password pw pass passwd 初期パスワード パス",
    "name": "名前 氏名 表示名 利用者 利用者名 name displayname fullname 使用者 担当者 ユーザー氏名",
    "quota": (
        "容量 容量制限 メール容量 ディスク容量 割当容量 quota quotamb size mailboxsize "
        "容量mb 容量gb"
    ),
    "targets": (
        "転送先 転送先アドレス 転送先メールアドレス 転送アドレス forwardto forward forwarding "
        "forwards target targets destination destinations goto 宛先"
    ),
    "keep_copy": (
        "転送時に残す コピーを残す keepcopy keep keepacopy 転送後メールを残す サーバーに残す "
        "メールを残す 残す leavecopy leaveacopy delivertolocalmailbox "
        "ローカルのメールボックスに残す 転送後も残す"
    ),
    "ignore": "備考 コメント メモ memo note notes comment comments remarks no 番号 #",
}.items():
    for _name in _names.split():
        _EXACT[_name] = _field  # type: ignore[assignment]

# Checked in this order: "転送先メールアドレス" is a target, not an address.
_FRAGMENTS: tuple[tuple[str, Field], ...] = (
    ("残す", "keep_copy"),
    ("keep", "keep_copy"),
    ("転送先", "targets"),
    ("forward", "targets"),
    ("パスワード", "password"),
    ("password", "password"),
    ("容量", "quota"),
    ("quota", "quota"),
    ("氏名", "name"),
    ("名前", "name"),
    ("表示名", "name"),
    ("メールアドレス", "address"),
    ("転送元", "address"),
    ("address", "address"),
    ("email", "address"),
    ("e-mail", "address"),
    ("備考", "ignore"),
)


def header_field(cell: str) -> Field | None:
    """The field a header cell names, or None if it names nothing we know."""
    folded = unicodedata.normalize("NFKC", cell).lower().strip()
    key = _PUNCT.sub("", folded)
    if not key:
        return None
    if key in _EXACT:
        return _EXACT[key]
    for fragment, field in _FRAGMENTS:
        if fragment in folded:
            return field
    return None


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: how Excel names a column."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def allowed_fields(kind: Kind) -> tuple[Field, ...]:
    return FIELDS if kind == "addresses" else FORWARD_FIELDS


def detect_layout(table: Table, kind: Kind = "addresses") -> Layout:
    """The header row (if any) and a field per column, for the mapping screen to start from."""
    allowed = allowed_fields(kind)
    width = table.width
    for number, cells in table.rows[:_HEADER_SCAN]:
        if any("@" in c or "＠" in c for c in cells):
            break  # data has started: there is no header
        fields = [header_field(c) for c in cells]
        if "address" in fields or ("targets" in fields and kind == "forwards"):
            mapped = _dedupe([f if f in allowed else "ignore" for f in fields], width)
            data = [cells for n, cells in table.rows if n > number]
            if "address" not in mapped:
                mapped = _fill_from_content(mapped, data, allowed, only=("address",))
            return Layout(header_row=number, fields=tuple(mapped))
    first_number, first_cells = table.rows[0]
    fields = [header_field(c) for c in first_cells]
    looks_like_header = sum(f is not None for f in fields) >= 2 and not any(
        "@" in c for c in first_cells
    )
    header = first_number if looks_like_header else None
    data = [cells for n, cells in table.rows if header is None or n > header]
    start: list[Field] = (
        [f if f in allowed else "ignore" for f in fields] if header else ["ignore"] * width
    )
    mapped = _dedupe(start, width)
    return Layout(header_row=header, fields=tuple(_fill_from_content(mapped, data, allowed)))


def _dedupe(fields: Sequence[Field | None], width: int) -> list[Field]:
    """One column per field, except forward targets (転送先1, 転送先2, … are common)."""
    seen: set[str] = set()
    result: list[Field] = []
    for field in list(fields) + [None] * (width - len(fields)):
        if field is None or field == "ignore" or (field in seen and field != "targets"):
            result.append("ignore")
        else:
            seen.add(field)
            result.append(field)
    return result


def _fill_from_content(
    fields: list[Field],
    data: Sequence[tuple[str, ...]],
    allowed: tuple[Field, ...],
    only: tuple[Field, ...] | None = None,
) -> list[Field]:
    """Guess unmapped columns from their cells: addresses, yes/no, sizes, passwords, names."""
    sample = data[:_SAMPLE]
    wanted: tuple[Field, ...] = only or ("address", "targets", "keep_copy", "quota", "password")
    for field in wanted:
        if field not in allowed or (field in fields and field != "targets"):
            continue
        if field == "targets" and "targets" in fields:
            continue
        for index, current in enumerate(fields):
            if current != "ignore":
                continue
            values = [c.strip() for c in (row[index] if index < len(row) else "" for row in sample)]
            values = [v for v in values if v]
            if values and _share(values, _CHECKS[field]) >= 0.6:
                fields[index] = field
                break
    if only is None and "name" in allowed and "name" not in fields:
        for index, current in enumerate(fields):
            values = [row[index].strip() for row in sample if index < len(row) and row[index]]
            if current == "ignore" and values and _share(values, _looks_like_name) >= 0.6:
                fields[index] = "name"
                break
    return fields


def _share(values: Sequence[str], check: object) -> float:
    return sum(1 for v in values if check(v)) / len(values)  # type: ignore[operator]


def _looks_like_address(value: str) -> bool:
    return "@" in value or "＠" in value


def _looks_like_keep(value: str) -> bool:
    if value.isdigit():
        return False  # 0/1 is more likely a quota or an id
    try:
        return parse_keep_copy(value) is not None
    except ValueError:
        return False


def _looks_like_quota(value: str) -> bool:
    try:
        return parse_quota(value)[0] is not None
    except ValueError:
        return False


def _looks_like_password(value: str) -> bool:
    """PostfixAdmin's policy wants letters and digits; a lone word is more likely a name."""
    return (
        value.isascii()
        and " " not in value
        and "@" not in value
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )


def _looks_like_name(value: str) -> bool:
    return not value.isascii() or " " in value


_CHECKS = {
    "address": _looks_like_address,
    "targets": _looks_like_address,
    "keep_copy": _looks_like_keep,
    "quota": _looks_like_quota,
    "password": _looks_like_password,
}


def header_cells(table: Table, layout: Layout) -> tuple[str, ...]:
    """The header row's cells, padded to the table's width (empty strings without a header)."""
    width = table.width
    for number, cells in table.rows:
        if number == layout.header_row:
            return tuple(cells) + ("",) * (width - len(cells))
    return ("",) * width


def to_input(table: Table, layout: Layout, kind: Kind = "addresses") -> ListInput:
    """Apply a layout: data rows below the header become records of the mapped fields."""
    allowed = allowed_fields(kind)
    fields = [f if f in allowed else "ignore" for f in layout.fields]
    if "address" not in fields:
        raise ListReadError("no_address_column", table.file)
    index: dict[str, list[int]] = {}
    for i, field in enumerate(fields):
        if field != "ignore":
            index.setdefault(field, []).append(i)
    columns = {field: column_letter(cols[0]) for field, cols in index.items()}
    width = len(fields)
    single = {f: cols[0] for f, cols in index.items() if f != "targets"}
    target_cols = index.get("targets", [])
    numeric = table.numeric
    pw_col = single.get("password")
    records: list[Record] = []
    header = layout.header_row
    # Cells right of the last heading in a column nobody mapped: usually an unquoted comma.
    heading_width = width
    if header is not None:
        heading = next((c for n, c in table.rows if n == header), ())
        heading_width = len(heading)
        while heading_width and not heading[heading_width - 1].strip():
            heading_width -= 1
    unmapped_right = [i for i in range(heading_width, width) if fields[i] == "ignore"]
    if header is None:
        unmapped_right = []
    cols = [single.get(f) for f in ("address", "password", "name", "quota", "keep_copy")]
    for number, cells in table.rows:
        if header is not None and number <= header:
            continue
        n = len(cells)
        address, password, name, quota, keep = (
            cells[i] if i is not None and i < n else "" for i in cols
        )
        targets = "\n".join(cells[i] for i in target_cols if i < n and cells[i].strip())
        record = Record(
            row=number,
            address=address,
            password=password,
            name=name,
            quota=quota,
            targets=targets,
            keep_copy=keep,
            password_was_number=pw_col is not None and (number, pw_col) in numeric,
            extra_cells=sum(1 for i in unmapped_right if i < n and cells[i].strip()),
        )
        if not record.is_blank():
            records.append(record)
    if not records:
        raise ListReadError("no_rows", table.file)
    return ListInput(table.file, kind, tuple(records), columns, table.notes)
