"""The ZIP of all pages, its index.csv, and the `mailmove instructions` engine."""

from __future__ import annotations

import argparse
import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailmove.config import demo_config
from mailmove.errors import MailmoveError
from mailmove.oldmail import (
    INDEX_NAME,
    BundleEntry,
    NewServer,
    PageSettings,
    build_zip,
    compute_timing,
    index_csv,
    neutralise_cell,
    parse_switch_at,
)
from mailmove.oldmail.cli import cmd_instructions, run_instructions

TZ = "Asia/Tokyo"


@dataclass(frozen=True)
class User:
    address: str
    name: str = ""
    password: str = "Given-pass-11"
    generated_password: bool = False


USERS = [
    User("taro@yamada-shoji.test", "山田 太郎"),
    User("hanako@yamada-shoji.test", '=HYPERLINK("http://evil.test","x")'),
    User("a/b@sato-design.test", "+cmd|' /C calc'!A0"),
    User("a_b@sato-design.test", "@SUM(1)"),
]


def settings() -> PageSettings:
    return PageSettings(
        old_host="sv1234.xserver.jp",
        timing=compute_timing(parse_switch_at("2026-12-01T14:00", TZ), TZ),
        new_server=NewServer.from_config(demo_config().server()),
    )


def read_index(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8, not Shift_JIS
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_zip_holds_one_page_per_user_and_the_index() -> None:
    archive = zipfile.ZipFile(io.BytesIO(build_zip(USERS, settings())))
    names = archive.namelist()
    pages = [n for n in names if n.endswith(".html")]
    assert len(pages) == len(USERS)
    assert len(set(pages)) == len(pages)  # a/b and a_b did not collide
    assert "a_b@sato-design.test.html" in pages
    assert "a_b@sato-design.test-2.html" in pages
    assert INDEX_NAME in names
    assert archive.testzip() is None
    rows = read_index(archive.read(INDEX_NAME))
    assert rows[0] == ["address", "name", "file"]
    assert [r[2] for r in rows[1:]] == pages
    assert rows[1] == ["taro@yamada-shoji.test", "山田 太郎", "taro@yamada-shoji.test.html"]
    page = archive.read("taro@yamada-shoji.test.html").decode("utf-8")
    assert "taro@yamada-shoji.test" in page


def test_zip_holds_setup_files_per_user_and_domain() -> None:
    names = zipfile.ZipFile(io.BytesIO(build_zip(USERS, settings()))).namelist()
    assert "setup/taro@yamada-shoji.test.mobileconfig" in names
    assert "setup/taro@yamada-shoji.test.autodiscover.xml" in names
    assert "setup/autoconfig/yamada-shoji.test/config-v1.1.xml" in names
    assert "setup/autoconfig/sato-design.test/config-v1.1.xml" in names
    bare = zipfile.ZipFile(io.BytesIO(build_zip(USERS, settings(), setup_files=False)))
    assert not [n for n in bare.namelist() if n.startswith("setup/")]


def test_index_cells_cannot_run_as_formulas() -> None:
    rows = read_index(index_csv([BundleEntry(u.address, u.name, "f.html") for u in USERS]))
    names = [r[1] for r in rows[1:]]
    assert names[1].startswith("'=")
    assert names[2].startswith("'+")
    assert names[3].startswith("'@")
    assert neutralise_cell("-1") == "'-1"
    assert neutralise_cell("山田") == "山田"


def args(tmp_path: Path, **extra: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "addresses": "list.csv",
        "server": None,
        "old_host": "SV1234.Xserver.JP.",
        "switch_at": "2026-12-01T14:00",
        "out": str(tmp_path / "out"),
        "lang": "en",
    }
    values.update(extra)
    return argparse.Namespace(**values)


def test_cli_writes_pages_index_and_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_instructions(args(tmp_path), demo_config(), USERS[:2])
    assert code == 0
    out = tmp_path / "out"
    assert (out / "taro@yamada-shoji.test.html").is_file()
    assert (out / "hanako@yamada-shoji.test.html").is_file()
    assert (out / "index.csv").is_file()
    assert not list(out.glob("*.partial"))
    with zipfile.ZipFile(out / "instructions.zip") as archive:
        assert {"taro@yamada-shoji.test.html", "index.csv"} <= set(archive.namelist())
    page = (out / "taro@yamada-shoji.test.html").read_text(encoding="utf-8")
    assert "sv1234.xserver.jp" in page  # normalised host name
    assert "after 15:00 on Wed 2 Dec (Japan time)" in page
    assert "wrote 2 page(s)" in capsys.readouterr().out


def test_cli_exit_1_lists_invalid_rows_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    invalid = ["row 3 [A]: taro.@docomo.ne.jp is not a valid address"]
    assert run_instructions(args(tmp_path), demo_config(), USERS[:1], invalid) == 1
    err = capsys.readouterr().err
    assert "row 3 [A]: taro.@docomo.ne.jp" in err
    assert len(list((tmp_path / "out").glob("*.html"))) == 1


@pytest.mark.parametrize(
    ("missing", "message"),
    [("old_host", "--old-host"), ("switch_at", "--switch-at"), ("out", "--out")],
)
def test_cli_usage_errors_name_the_option(tmp_path: Path, missing: str, message: str) -> None:
    with pytest.raises(MailmoveError, match=message):
        run_instructions(args(tmp_path, **{missing: None}), demo_config(), USERS[:1])


def test_cli_rejects_a_bad_host(tmp_path: Path) -> None:
    with pytest.raises(MailmoveError, match="host name"):
        run_instructions(args(tmp_path, old_host="not a host"), demo_config(), USERS[:1])


def test_cli_reads_the_address_list_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text(
        "メールアドレス,氏名,パスワード\n"
        "taro@yamada-shoji.test,山田 太郎,Taro-pass-12\n"
        "taro.@yamada-shoji.test,壊れた行,Taro-pass-12\n"
        "hana@yamada-shoji.test,花子,\n",
        encoding="utf-8",
    )
    code = cmd_instructions(
        args(tmp_path, addresses=str(listing), include_passwords=True), demo_config()
    )
    out = tmp_path / "out"
    assert code == 1  # the broken row is reported
    assert sorted(p.name for p in out.glob("*.html")) == [
        "hana@yamada-shoji.test.html",
        "taro@yamada-shoji.test.html",
    ]
    err = capsys.readouterr().err
    assert "row 3" in err
    assert "--include-passwords ignored" in err
    # hana's password was generated by this run: never the one a past apply set, never printed.
    assert "Taro-pass-12" not in (out / "taro@yamada-shoji.test.html").read_text(encoding="utf-8")
