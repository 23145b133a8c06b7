"""The pieces the data-driven cases rely on: decoding, PFA's address rules, secrets, exports."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from mailmove.config import PasswordPolicy
from mailmove.lists import (
    ListReadError,
    Options,
    apply_edits,
    column_letter,
    detect_layout,
    display_address,
    error_report_csv,
    generate_password,
    header_field,
    neutralise,
    policy_problems,
    prepare,
    read_bytes,
    read_file,
    read_text,
    result_json,
    to_ascii_domain,
    validate,
)
from mailmove.lists._normalise import normalise_address, parse_keep_copy, parse_quota, split_targets
from mailmove.lists._read import sniff_delimiter

DATA = Path(__file__).parents[1] / "data" / "lists"


def test_cp932_decodes_what_shift_jis_cannot() -> None:
    data = "メールアドレス,パスワード,氏名\r\na@x.jp,Abc12345,髙橋 ① ㈱ ～\r\n".encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        data.decode("shift_jis")
    table = read_bytes(data, "a.csv")
    assert table.encoding == "cp932"
    assert table.rows[1][1][2] == "髙橋 ① ㈱ ～"


def test_utf8_with_and_without_bom_and_utf16() -> None:
    text = "メールアドレス\ta@x.jp\n"
    for data, encoding in (
        (text.encode("utf-8-sig"), "utf-8"),
        (text.encode("utf-8"), "utf-8"),
        (text.encode("utf-16"), "utf-16"),
    ):
        table = read_bytes(data, "a.txt")
        assert table.encoding == encoding
        assert table.rows[0][1][0] == "メールアドレス"  # no BOM left in the first header


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a;b;c\n1;2;3\n", ";"),
        ('a,"x;y;z",c\n1,"p;q",3\n', ","),
        ("taro@x.jp\nhanako@x.jp\n", None),
    ],
)
def test_delimiter_sniffing(text: str, delimiter: str | None) -> None:
    assert sniff_delimiter(text) == delimiter


def test_a_line_break_inside_a_quoted_cell_stays_in_the_cell() -> None:
    table = read_bytes(b'address,targets\r\na@x.jp,"b@x.jp\nc@x.jp"\r\nd@x.jp,\r\n', "a.csv")
    assert [n for n, _ in table.rows] == [1, 2, 3]  # rows as Excel numbers them
    assert table.rows[1][1][1] == "b@x.jp\nc@x.jp"


def test_size_limit_is_checked_before_reading_a_file(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"a@x.jp,Abc12345\n" * 100)
    with pytest.raises(ListReadError) as err:
        read_file(big, max_bytes=1000)
    assert err.value.code == "too_large"
    assert "KB" in err.value.message("en")


def test_missing_file_is_a_read_error_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(ListReadError) as err:
        read_file(tmp_path / "nope.csv")
    assert err.value.code == "unreadable"


def test_a_pdf_named_csv_is_refused() -> None:
    with pytest.raises(ListReadError) as err:
        read_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "list.csv")
    assert err.value.code == "binary"


def test_too_many_rows() -> None:
    with pytest.raises(ListReadError) as err:
        read_text("a@x.jp\n" * 100_001)
    assert err.value.code == "too_many_rows"


@pytest.mark.parametrize(
    "address",
    [
        "taro@example.jp",
        "taro.yamada@example.jp",
        "o'brien@example.ie",
        "a+tag@example.jp",
        "x_y-z@sub.example.co.jp",
        "a@xn--bcher-kva.xn--p1ai",
        "a@example.international",  # 13 characters: PFA's maximum
        f"{'a' * 64}@example.jp",
    ],
)
def test_addresses_postfixadmin_accepts(address: str) -> None:
    assert normalise_address(address).problem == ""


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("taro.@docomo.ne.jp", "mobile_dots"),
        ("ta..ro@ezweb.ne.jp", "mobile_dots"),
        (".taro@softbank.ne.jp", "mobile_dots"),
        ("taro.@example.jp", "local_dots"),
        ("jürgen@example.de", "local_not_ascii"),
        ("a`b@example.jp", "local_bad_chars"),  # FILTER_VALIDATE_EMAIL allows it, PFA does not
        ('"quoted"@example.jp', "local_bad_chars"),
        (f"{'a' * 65}@example.jp", "local_too_long"),
        ("a@localhost", "domain_invalid"),
        ("a@-bad.jp", "domain_invalid"),
        ("a@bad-.jp", "domain_invalid"),
        ("a@under_score.jp", "domain_invalid"),
        ("a@example.123", "domain_invalid"),
        ("a@example.xn--vermgensberatung-pwb", "domain_tld_too_long"),
        ("a@[192.0.2.1]", "domain_invalid"),
        ("nodomain", "address_no_at"),
        ("a@b@c.jp", "address_many_at"),
        ("@example.jp", "local_missing"),
        ("a@", "domain_missing"),
    ],
)
def test_addresses_postfixadmin_refuses(address: str, problem: str) -> None:
    assert normalise_address(address).problem == problem


def test_normalisation_reports_each_change() -> None:
    result = normalise_address("　ＴＡＲＯ＠Ｅｘａｍｐｌｅ．ＪＰ\u200b")
    assert result.value == "taro@example.jp"
    assert result.changes == ("spaces", "width", "lower")
    idn = normalise_address("info@山田商事.jp")
    assert idn.value == "info@xn--3kqw7njtg9v1a.jp"
    assert idn.changes == ("idn",)
    assert display_address(idn.value) == "info@山田商事.jp"


def test_catch_all_forms() -> None:
    for form in ("*@example.jp", "@example.jp", "＊＠example.jp"):
        result = normalise_address(form, allow_catch_all=True)
        assert (result.value, result.catch_all, result.problem) == ("@example.jp", True, "")


def test_targets_split_on_every_separator() -> None:
    cell = "a@x.jp,b@x.jp;c@x.jp、d@x.jp，e@x.jp；f@x.jp g@x.jp\u3000h@x.jp\ni@x.jp\r\nj@x.jp"
    assert split_targets(cell) == [f"{c}@x.jp" for c in "abcdefghij"]


@pytest.mark.parametrize(
    ("cell", "keep"),
    [
        ("残す", True),
        ("サーバーに残す", True),
        ("転送後メールを残す", True),
        ("○", True),
        ("Yes", True),
        ("TRUE", True),
        ("残さない", False),
        ("転送のみ", False),
        ("×", False),
        ("no", False),
        ("", None),
    ],
)
def test_keep_copy_values(cell: str, keep: bool | None) -> None:
    assert parse_keep_copy(cell) is keep


@pytest.mark.parametrize(
    ("cell", "mb"),
    [("1,000", 1000), ("500MB", 500), ("2GB", 2048), ("1.5GB", 1536), ("無制限", 0), ("", None)],
)
def test_quota_values(cell: str, mb: int | None) -> None:
    assert parse_quota(cell)[0] == mb


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("メールアドレス", "address"),
        ("E-mail", "address"),
        ("Email Address", "address"),
        ("アドレス", "address"),
        ("転送元", "address"),
        ("パスワード", "password"),
        ("初期パスワード", "password"),
        ("PW", "password"),
        ("氏名", "name"),
        ("表示名", "name"),
        ("名前", "name"),
        ("容量", "quota"),
        ("容量（MB）", "quota"),
        ("転送先", "targets"),
        ("転送先メールアドレス", "targets"),
        ("Forward to", "targets"),
        ("転送時に残す", "keep_copy"),
        ("コピーを残す", "keep_copy"),
        ("Keep copy", "keep_copy"),
        ("転送後、メールをサーバーに残す", "keep_copy"),
        ("備考", "ignore"),
        ("部署", None),
    ],
)
def test_header_names(header: str, field: str | None) -> None:
    assert header_field(header) == field


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 1, 25, 26, 27, 701, 702)] == [
        "A",
        "B",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]


@pytest.mark.parametrize(
    "policy",
    [PasswordPolicy(), PasswordPolicy(20, 10, 8), PasswordPolicy(8, 0, 0), PasswordPolicy(4, 1, 3)],
)
def test_generated_passwords_meet_the_policy_and_differ(policy: PasswordPolicy) -> None:
    passwords = {generate_password(policy) for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert not policy_problems(password, policy)
        assert re.fullmatch(r"[A-Za-z2-9]+", password)
        assert len(password) >= 16


def test_passwords_stay_out_of_reprs_and_errors() -> None:
    table = read_text("メールアドレス\tパスワード\nTaro@x.jp\tSecret-99zz\nbad\tOther-88yy\n")
    source = prepare(table)
    result = validate(source, None, Options())
    assert result.mailboxes[0].password == "Secret-99zz"
    shown = repr(result) + repr(source) + str(result.mailboxes) + str(source.records)
    issues = result.errors + result.warnings
    shown += "".join(i.message("ja") + i.message("en") for i in issues)
    shown += repr(result_json(result, "en"))
    assert "Secret-99zz" not in shown
    assert "Other-88yy" not in shown


def test_generated_password_is_marked_and_never_printed() -> None:
    source = prepare(read_text("メールアドレス\tパスワード\ntaro@x.jp\t\n"))
    result = validate(source, None, Options(generate_passwords=True))
    (mailbox,) = result.mailboxes
    assert mailbox.generated_password
    assert mailbox.password
    assert mailbox.password not in repr(result) + repr(result_json(result, "ja"))


def test_error_report_is_excel_safe() -> None:
    source = prepare(
        read_text("メールアドレス\t氏名\n=cmd|' /C calc'!A0@x.jp\t山田\n+1@x.jp\tx\n-@x.jp\t\n")
    )
    result = validate(source, None, Options())
    data = error_report_csv(result, "ja")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "ファイル"
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("山田") == "山田"


def test_edits_replace_cells_and_add_missing_columns() -> None:
    source = prepare(read_text("メールアドレス\nTaro@x.jp\nbad-address\n"))
    fixed = apply_edits(source, {3: {"address": "hanako@x.jp", "password": "Hana1234"}})
    assert fixed.records[1].address == "hanako@x.jp"
    assert fixed.columns["password"] == ""  # the file had no password column
    result = validate(fixed, None, Options())
    assert [m.address for m in result.mailboxes] == ["hanako@x.jp"]
    assert {i.row for i in result.errors} == {2}  # taro still lacks a password


def test_the_mapping_can_be_overridden() -> None:
    table = read_text("a@x.jp\tAbc12345\tboss@y.jp\n")
    detected = detect_layout(table)
    assert detected.header_row is None
    assert detected.fields == ("address", "password", "targets")
    layout = detected.__class__(None, ("address", "password", "ignore"))
    result = validate(prepare(table, "addresses", layout), None, Options())
    assert result.forwards == ()


def test_domains_on_the_command_line() -> None:
    assert to_ascii_domain("山田商事.JP") == "xn--3kqw7njtg9v1a.jp"
    assert to_ascii_domain(" Example.jp. ") == "example.jp"
    assert to_ascii_domain("not a domain") is None


def test_5000_rows_validate_quickly() -> None:
    import time

    lines = ["メールアドレス,パスワード,氏名,転送先"]
    lines += [f"u{i}@x.jp,Pass{i:05d}ab,山田 {i},f{i}@y.jp" for i in range(5000)]
    data = "\r\n".join(lines).encode("cp932")
    start = time.perf_counter()
    result = validate(prepare(read_bytes(data, "a.csv")), None, Options())
    assert len(result.mailboxes) == 5000
    assert time.perf_counter() - start < 2.0
