"""The YAML configuration: fixed key names, clear one-line errors, secrets never printed."""

from pathlib import Path

import pytest

from mailmove.config import demo_config, load_config, masked, parse_config
from mailmove.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "mailmove.example.yaml"


def minimal(**server_overrides: object) -> dict[str, object]:
    server: dict[str, object] = {
        "name": "tokyo-1",
        "postfixadmin": {"url": "https://pfa.example.net/", "username": "staff@example.net"},
        "ipv4": "203.0.113.7",
    }
    server.update(server_overrides)
    return {"servers": [server]}


def test_example_file_is_valid_and_documents_every_fixed_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in (
        "servers:",
        "postfixadmin:",
        "password_env:",
        "backend:",
        "ipv4:",
        "ipv6:",
        "mx:",
        "strategy:",
        "imap:",
        "pop3:",
        "smtp:",
        "dkim:",
        "selector:",
        "public_key:",
        "password_policy:",
        "dns:",
        "timeout_s:",
        "resolvers:",
        "transport:",
        "authoritative:",
        "store:",
    ):
        assert key in text, key
    config = load_config(EXAMPLE, environ={"MAILMOVE_PFA_PASSWORD": "from-env-1"})
    assert config.servers[0].postfixadmin.password == "from-env-1"
    assert {r.transport for r in config.dns.resolvers} >= {"udp", "doh"}


def test_defaults_follow_the_faq() -> None:
    config = parse_config(minimal())
    server = config.server()
    assert server.mx.strategy == "keep-host"
    assert server.postfixadmin.backend == "http"
    assert (server.password_policy.min_length, server.password_policy.min_letters) == (5, 3)
    assert config.dns.timeout_s == 2.0
    assert config.dns.authoritative is None  # auto: from the parent's delegation
    assert config.store.startswith("sqlite:///")
    assert config.timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({}, "servers"),
        (minimal(ipv4="300.1.1.1"), "servers[0].ipv4"),
        (minimal(ipv4="2001:db8::1"), "not an IPv4"),
        (minimal(ipv6="203.0.113.9"), "servers[0].ipv6"),
        (minimal(mx={"strategy": "server-host"}), "servers[0].mx.host"),
        (minimal(mx={"strategy": "sideways"}), "keep-host or server-host"),
        (minimal(imap={"host": "imap.example.net", "port": 99999}), "servers[0].imap.port"),
        (minimal(postfixadmin={"url": "x", "backend": "ftp"}), "backend"),
        ({**minimal(), "dns": {"timeout_s": -1}}, "dns.timeout_s"),
        (
            {
                **minimal(),
                "dns": {"resolvers": [{"name": "iij", "address": "1.2.3.4", "transport": "doh"}]},
            },
            "https://",
        ),
        ({**minimal(), "dns": {"authoritative": "sometimes"}}, "dns.authoritative"),
        ({**minimal(), "store": "mailmove.db"}, "store"),
        ({"servers": [minimal()["servers"][0], minimal()["servers"][0]]}, "distinct"),  # type: ignore[index]
    ],
)
def test_bad_values_are_named(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_password_from_env_or_secrets_never_in_repr_or_masked_output() -> None:
    data = minimal(postfixadmin={"url": "https://p/", "password_env": "PFA_PW"})
    config = parse_config(data, environ={"PFA_PW": "Sekrit-42"})
    assert config.server().postfixadmin.password == "Sekrit-42"
    assert "Sekrit-42" not in repr(config)
    assert "Sekrit-42" not in str(masked(config))

    from_secrets = parse_config(
        minimal(postfixadmin={"url": "https://p/"}),
        environ={},
        secrets={"servers": {"tokyo-1": {"postfixadmin_password": "Toml-99"}}},
    )
    assert from_secrets.server().postfixadmin.password == "Toml-99"


def test_unreadable_and_broken_files_give_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("servers: [\n  - name: x\n    ipv4: [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(broken)


def test_server_choice() -> None:
    two = {"servers": [minimal()["servers"][0], {**minimal()["servers"][0], "name": "osaka-1"}]}  # type: ignore[index]
    config = parse_config(two)
    assert config.server("osaka-1").name == "osaka-1"
    with pytest.raises(ConfigError, match="choose one with --server"):
        config.server()
    with pytest.raises(ConfigError, match="no server named 'nagoya'"):
        config.server("nagoya")


def test_no_file_means_the_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MAILMOVE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.source == "embedded demo defaults"
    assert config.server().postfixadmin.url.startswith("http://127.0.0.1:")
    assert all(ns.address.startswith("127.") for ns in demo_config().dns.resolvers)
