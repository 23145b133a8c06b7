"""``mailmove validate``: exit codes 0/1/2, the --json shape, and never a password."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailmove.config import PasswordPolicy, demo_config, parse_config
from mailmove.lists.cli import run_validate, server_policy

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "lists"
SECRET = "Never-Print-Me-77"


def args(addresses: Path | str, **extra: Any) -> argparse.Namespace:
    values: dict[str, Any] = {
        "addresses": str(addresses),
        "forwards": None,
        "domain": [],
        "json": False,
    }
    values.update(extra)
    return argparse.Namespace(**values)


def write(tmp_path: Path, name: str, text: str, encoding: str = "cp932") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        "good.csv",
        f"メールアドレス,パスワード,氏名,転送先\ntaro@yamada-shoji.test,{SECRET},山田 太郎,\n"
        "info@yamada-shoji.test,Info2024ab,窓口,boss@example.com\n",
    )


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        "bad.csv",
        f"メールアドレス,パスワード\ntaro@yamada-shoji.test,{SECRET}\nhanako@yamada-shoji.test,ab\n",
    )


def test_exit_0_when_no_row_has_an_error(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_validate(args(good), demo_config()) == 0
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err


def test_exit_1_when_some_rows_have_errors(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_validate(args(bad, lang="en"), demo_config()) == 1
    out = capsys.readouterr().out
    assert "bad.csv:3:B: error: The password is too short" in out
    assert "[password_too_short]" in out
    assert SECRET not in out


@pytest.mark.parametrize(
    "name", ["bad_binary.csv", "bad_empty.csv", "bad_no_address_column.csv", "missing.csv"]
)
def test_exit_2_when_a_file_cannot_be_read(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_validate(args(DATA / name), demo_config()) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("mailmove validate: ")
    assert out.err.count("\n") == 1
    assert "Traceback" not in out.err


def test_exit_2_for_an_unreadable_forwarding_list(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_validate(args(good, forwards=str(DATA / "bad_broken.xlsx")), demo_config()) == 2
    assert "bad_broken.xlsx" in capsys.readouterr().err


def test_json_shape_is_exactly_the_contract(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_validate(args(good, json=True), demo_config()) == 0
    raw = capsys.readouterr().out
    assert SECRET not in raw
    doc = json.loads(raw)
    assert set(doc) == {"mailboxes", "forwards", "errors", "warnings"}
    assert doc["mailboxes"][0] == {
        "address": "taro@yamada-shoji.test",
        "name": "山田 太郎",
        "row": 2,
        "has_password": True,
        "generated_password": False,
    }
    assert doc["forwards"] == [
        {
            "address": "info@yamada-shoji.test",
            "targets": ["boss@example.com"],
            "keep_copy": True,
            "catch_all": False,
            "row": 3,
        }
    ]
    assert doc["errors"] == []
    (warning,) = doc["warnings"]
    assert set(warning) == {"file", "row", "column", "code", "message"}
    assert warning["code"] == "keep_copy_assumed"
    assert warning["message"].startswith("「info@yamada-shoji.test」")  # Japanese by default


def test_json_with_a_forwarding_list_and_punycode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    addresses = write(tmp_path, "a.csv", "メールアドレス,パスワード\nInfo@山田商事.jp,Info2024\n")
    forwards = write(
        tmp_path,
        "f.csv",
        "転送元,転送先,転送後メールを残す\n*@山田商事.jp,info@山田商事.jp,\n"
        "info@山田商事.jp,taro.@docomo.ne.jp,残す\n",
        "utf-8-sig",
    )
    code = run_validate(
        args(addresses, forwards=str(forwards), json=True, domain=["山田商事.jp"], lang="en"),
        demo_config(),
    )
    assert code == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["mailboxes"][0]["address"] == "info@xn--3kqw7njtg9v1a.jp"
    assert doc["forwards"][0]["address"] == "@xn--3kqw7njtg9v1a.jp"
    assert doc["forwards"][0]["catch_all"] is True
    assert doc["forwards"][0]["targets"] == ["info@xn--3kqw7njtg9v1a.jp"]
    (error,) = doc["errors"]
    assert (error["file"], error["row"], error["column"], error["code"]) == (
        str(forwards),
        3,
        "B",
        "mobile_dots",
    )
    assert "old-style mobile address" in error["message"]


def test_domain_limits_the_migration(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_validate(args(good, json=True, domain=["sato-design.test"]), demo_config()) == 1
    doc = json.loads(capsys.readouterr().out)
    assert {e["code"] for e in doc["errors"]} == {"domain_not_in_migration"}
    assert doc["mailboxes"] == []


def test_a_bad_domain_argument_is_exit_2(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_validate(args(good, domain=["not a domain"]), demo_config()) == 2
    assert "not a domain" in capsys.readouterr().err


def test_password_policy_comes_from_the_server() -> None:
    one = parse_config(
        {
            "servers": [
                {
                    "name": "s1",
                    "postfixadmin": {"url": "http://pfa.test/"},
                    "ipv4": "192.0.2.1",
                    "password_policy": {"min_length": 12},
                }
            ]
        },
        environ={},
        secrets={},
    )
    assert server_policy(args("x"), one).min_length == 12
    two = parse_config(
        {
            "servers": [
                {"name": n, "postfixadmin": {"url": "http://pfa.test/"}, "ipv4": "192.0.2.1"}
                for n in ("s1", "s2")
            ]
        },
        environ={},
        secrets={},
    )
    assert server_policy(args("x"), two) == PasswordPolicy()
    assert server_policy(args("x", server="s2"), two) == PasswordPolicy()


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailmove", "validate", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "MAILMOVE_CONFIG": "demo"},
        check=False,
    )


def test_the_real_command(good: Path, bad: Path) -> None:
    """As staff run it; passes once mailmove/cli.py routes ``validate`` to run_validate."""
    probe = run_cli(str(good))
    if "not available in this version" in probe.stderr:
        pytest.skip("mailmove validate is not wired to mailmove.lists.cli.run_validate yet")
    assert probe.returncode == 0, probe.stderr
    assert run_cli(str(bad)).returncode == 1
    assert run_cli(str(DATA / "bad_binary.csv")).returncode == 2
    result = run_cli(str(good), "--json", "--domain", "yamada-shoji.test")
    assert result.returncode == 0
    assert json.loads(result.stdout)["mailboxes"][0]["has_password"] is True
    assert SECRET not in result.stdout + result.stderr
