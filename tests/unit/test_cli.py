"""The CLI's exit-code contract, run as support staff run it: a real subprocess."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailmove", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "MAILMOVE_PFA_PASSWORD": "Never-Print-Me-77"},
        check=False,
    )


def test_config_prints_masked_settings() -> None:
    result = run("config", "--config", str(ROOT / "mailmove.example.yaml"))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["servers"][0]["name"] == "tokyo-1"
    assert shown["servers"][0]["postfixadmin"]["password"] == "********"
    assert "Never-Print-Me-77" not in result.stdout + result.stderr


def test_config_flag_before_the_subcommand_works_too() -> None:
    result = run("--config", str(ROOT / "mailmove.example.yaml"), "config")
    assert result.returncode == 0
    assert json.loads(result.stdout)["source"].endswith("mailmove.example.yaml")


def test_usage_error_is_one_line_and_exit_2() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_unreadable_config_is_exit_2_with_reason(tmp_path: Path) -> None:
    result = run("config", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert result.stderr.startswith("mailmove config: cannot read configuration")
    assert "Traceback" not in result.stderr


def test_every_subcommand_of_the_contract_exists() -> None:
    for command in ("validate", "plan", "apply", "records", "check", "instructions", "sweep"):
        result = run(command, "--help")
        assert result.returncode == 0, command
        assert "--config" in result.stdout, command
