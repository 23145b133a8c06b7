"""Regenerate the .xlsx fixtures: ``.venv/bin/python tests/data/lists/make_xlsx.py``.

The outputs are committed next to this script; run it again only to change them.
``excel.xlsx`` is what a customer's hand-made Excel list looks like: a title row,
a header, a password Excel turned into a number, a second sheet with more data.
``bad_broken.xlsx`` is a damaged download (the first bytes of a real workbook).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl

HERE = Path(__file__).parent
FIXED = dt.datetime(2026, 1, 15, 9, 0, 0)


def workbook() -> bytes:
    book = openpyxl.Workbook()
    book.properties.created = book.properties.modified = FIXED
    sheet = book.active
    sheet.title = "アドレス一覧"
    sheet.append(["㈱山田商事 メールアカウント一覧"])
    sheet.append([])
    sheet.append(["メールアドレス", "パスワード", "氏名", "容量", "転送先", "転送時に残す"])
    sheet.append(["yamada@yamada-shoji.test", "Yamada2024", "山田 太郎 ①", 1000, None, None])
    sheet.append(
        ["takahashi@yamada-shoji.test", "Taka7788", "髙橋 花子", 2.0, "h@example.com", True]
    )
    sheet.append(["numbers@yamada-shoji.test", 1234567, "数字 パスワード", 500, None, None])
    sheet.append(["ＺＥＮＫＡＫＵ＠yamada-shoji.test", "Zenk1234", "全角 太郎", "1GB", None, None])
    sheet.append([None, "NoAddr12", "アドレスなし", None, None, None])
    other = book.create_sheet("退職者")
    other.append(["メールアドレス", "パスワード"])
    other.append(["old@yamada-shoji.test", "Old12345"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> None:
    data = workbook()
    (HERE / "excel.xlsx").write_bytes(data)
    (HERE / "bad_broken.xlsx").write_bytes(data[:300])


if __name__ == "__main__":
    main()
