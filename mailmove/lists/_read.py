"""Bytes in, a :class:`Table` out: encodings, delimiters and .xlsx, or one clear refusal.

Customers' lists come from Excel on Japanese Windows: CP932 or UTF-8 with a BOM,
sometimes UTF-16 ("Unicode text"), sometimes the .xlsx itself. Anything we cannot
read raises :class:`ListReadError` with a catalog code, never a traceback.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator

from mailmove.lists._model import PASTED, Issue, ListReadError, Table

MAX_BYTES = 10 * 1024 * 1024  # Microsoft 365's migration CSV limit; 50,000 rows are ~3 MB
MAX_ROWS = 100_000
_MAX_XLSX_UNPACKED = 200 * 1024 * 1024  # a zip bomb is not an address list
_MAX_FIELD = 100_000  # characters in one cell

_BINARY_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"\x7fELF",
    b"MZ",
    b"\x1f\x8b",
    b"Rar!",
    b"7z\xbc\xaf",
)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / .doc
_DELIMITERS = ("\t", ",", ";")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def read_bytes(data: bytes, file: str, *, max_bytes: int = MAX_BYTES) -> Table:
    """Decode an uploaded or read file into a table; raise ListReadError if unusable."""
    if not data.strip():
        raise ListReadError("empty", file)
    if len(data) > max_bytes:
        raise ListReadError("too_large", file, size=size_text(len(data)), max=size_text(max_bytes))
    if data.startswith(b"PK\x03\x04") or file.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data, file)
    if data.startswith(_OLE):
        raise ListReadError("xls_unsupported", file)
    if data.startswith(_BINARY_MAGIC):
        raise ListReadError("binary", file)
    text, encoding = _decode(data, file)
    return _table_from_text(text, file, encoding)


def read_text(text: str, file: str = PASTED) -> Table:
    """Pasted text: from Excel it is tab-separated, from elsewhere anything goes."""
    if not text.strip():
        raise ListReadError("empty", file)
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ListReadError("too_large", file, size=size_text(len(text)), max=size_text(MAX_BYTES))
    return _table_from_text(text, file, "")


def size_text(size: int) -> str:
    """10485760 → '10 MB', 1536 → '2 KB': sizes as a customer reads them."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    return f"{-(-size // 1024)} KB"


def _decode(data: bytes, file: str) -> tuple[str, str]:
    """UTF-16 with BOM, then UTF-8 (BOM or not), then CP932 (never shift_jis, it loses ① ㈱ 髙)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _check_text(data.decode("utf-16"), file), "utf-16"
        except UnicodeDecodeError:
            raise ListReadError("undecodable", file, line=1) from None
    if b"\x00" in data[:8192]:
        raise ListReadError("binary", file)
    try:
        return _check_text(data.decode("utf-8-sig"), file), "utf-8"
    except UnicodeDecodeError as exc:
        bad_at = exc.start
    # A file that was valid UTF-8 with Japanese text up to here is UTF-8 with a broken byte,
    # not CP932: decoding it as CP932 would silently turn every name into mojibake.
    if _looks_like_utf8(data[:bad_at]):
        raise ListReadError("undecodable", file, line=data[:bad_at].count(b"\n") + 1)
    try:
        return _check_text(data.decode("cp932"), file), "cp932"
    except UnicodeDecodeError as exc:
        raise ListReadError("undecodable", file, line=data[: exc.start].count(b"\n") + 1) from None


def _looks_like_utf8(prefix: bytes) -> bool:
    """Two or more multi-byte UTF-8 characters before the first bad byte: CP932 rarely does that."""
    try:
        text = prefix.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return len(text) - len(text.encode("ascii", "ignore")) >= 2


def _check_text(text: str, file: str) -> str:
    """Decodable is not enough: an image decoded as CP932 is full of control characters."""
    sample = text[:8192]
    if sample and len(_CONTROL.findall(sample)) > max(4, len(sample) // 100):
        raise ListReadError("binary", file)
    return text


def _table_from_text(text: str, file: str, encoding: str) -> Table:
    text = text.removeprefix("\ufeff")
    delimiter = sniff_delimiter(text)
    rows: list[tuple[int, tuple[str, ...]]] = []
    try:
        for number, cells in enumerate(_records(text, delimiter), start=1):
            if number > MAX_ROWS:
                raise ListReadError("too_many_rows", file, max_rows=MAX_ROWS)
            if "".join(cells).strip():
                rows.append((number, tuple(cells)))
    except csv.Error:
        raise ListReadError("malformed", file, line=len(rows) + 1) from None
    if not rows:
        raise ListReadError("empty", file)
    return Table(file=file, rows=tuple(rows), encoding=encoding)


def _records(text: str, delimiter: str | None) -> Iterator[list[str]]:
    if delimiter is not None:
        csv.field_size_limit(_MAX_FIELD)
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        return
    # No tab, comma or semicolon: one column, or a table pasted with runs of spaces.
    for line in text.splitlines():
        stripped = line.strip()
        yield re.split(r"\s{2,}|\u3000+", stripped) if stripped else []


def sniff_delimiter(text: str) -> str | None:
    """Tab, comma or semicolon: whichever splits the first lines most consistently."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()][:30]
    if not lines:
        return None
    best: tuple[float, int, int] = (0.0, 0, 0)
    chosen: str | None = None
    for rank, delimiter in enumerate(_DELIMITERS):
        counts = [len(r) for r in csv.reader(lines, delimiter=delimiter)]
        widths = [c for c in counts if c > 1]
        if not widths:
            continue
        modal = max(set(widths), key=widths.count)
        score = (widths.count(modal) / len(counts), modal, -rank)
        if score > best:
            best, chosen = score, delimiter
    return chosen


def _read_xlsx(data: bytes, file: str) -> Table:
    """The first sheet of an .xlsx, values as shown (cached formula results)."""
    import openpyxl  # imported here: only uploads of .xlsx pay for it

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(i.file_size for i in archive.infolist()) > _MAX_XLSX_UNPACKED:
                raise ListReadError("xlsx_broken", file)
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ListReadError:
        raise
    except Exception:  # openpyxl raises a dozen types for a damaged or encrypted file
        raise ListReadError("xlsx_broken", file) from None
    try:
        sheets = [ws for ws in book.worksheets if hasattr(ws, "iter_rows")]
        if not sheets:
            raise ListReadError("empty", file)
        rows, numeric = _sheet_rows(sheets[0].iter_rows(values_only=True), file)
        notes: tuple[Issue, ...] = ()
        if any(_sheet_has_data(ws) for ws in sheets[1:]):
            notes = (Issue(file, 0, "", "other_sheets", "warning", {"sheet": sheets[0].title}),)
    except ListReadError:
        raise
    except Exception:
        raise ListReadError("xlsx_broken", file) from None
    finally:
        book.close()
    if not rows:
        raise ListReadError("empty", file)
    return Table(file=file, rows=tuple(rows), numeric=frozenset(numeric), notes=notes)


def _sheet_has_data(ws: object) -> bool:
    rows = ws.iter_rows(values_only=True)  # type: ignore[attr-defined]
    return any(any(v not in (None, "") for v in row) for row in rows)


def _sheet_rows(
    source: Iterable[tuple[object, ...]], file: str
) -> tuple[list[tuple[int, tuple[str, ...]]], set[tuple[int, int]]]:
    rows: list[tuple[int, tuple[str, ...]]] = []
    numeric: set[tuple[int, int]] = set()
    for number, values in enumerate(source, start=1):
        if number > MAX_ROWS:
            raise ListReadError("too_many_rows", file, max_rows=MAX_ROWS)
        cells = tuple(_cell_text(v) for v in values)
        if not any(c.strip() for c in cells):
            continue
        while cells and not cells[-1]:
            cells = cells[:-1]
        rows.append((number, cells))
        numeric.update(
            (number, i)
            for i, v in enumerate(values)
            if isinstance(v, int | float) and not isinstance(v, bool)
        )
    return rows, numeric


def _cell_text(value: object) -> str:
    """A cell as Excel shows it: 1000 not 1000.0, a date without 00:00:00."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
