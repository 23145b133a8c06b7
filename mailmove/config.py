"""The one YAML configuration, read into frozen dataclasses.

Key names are fixed (support scripts and docs rely on them); see
``mailmove.example.yaml`` for the documented form. Without a file the app runs on
:func:`demo_config`, the local demo PostfixAdmin and DNS test bed that
``scripts/demo.sh`` starts, so a fresh checkout works with no setup.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from mailmove.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_NAME = "mailmove.yaml"
CONFIG_ENV = "MAILMOVE_CONFIG"
DEMO = "demo"  # MAILMOVE_CONFIG=demo or --config demo: the embedded defaults, even if a file exists
SECRETS_FILE = Path(".streamlit") / "secrets.toml"

Backend = Literal["http", "cli"]
MxStrategy = Literal["keep-host", "server-host"]
Transport = Literal["udp", "tcp", "doh"]

# Where the demo services listen (scripts/demo.sh); the test suite uses free ports.
DEMO_PFA_PORT = 8931
DEMO_AUTH_DNS = ("127.0.0.2", 5302)
DEMO_CACHE_DNS = ("127.0.0.3", 5303)
DEMO_STATE_DIR = Path(os.environ.get("MAILMOVE_DEMO_STATE_DIR", REPO_ROOT / "var" / "demo"))


@dataclass(frozen=True)
class PostfixAdminSettings:
    """How mailmove reaches one server's PostfixAdmin (the staff account for CLI work)."""

    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    backend: Backend = "http"
    cli_path: str = "/usr/share/postfixadmin/scripts/postfixadmin-cli.php"


@dataclass(frozen=True)
class Endpoint:
    """A host and port that users' mail programs connect to."""

    host: str
    port: int


@dataclass(frozen=True)
class MxSettings:
    """keep-host: the customer's MX name stays, its A record moves (the FAQ's way)."""

    strategy: MxStrategy = "keep-host"
    host: str = ""


@dataclass(frozen=True)
class DkimSettings:
    selector: str = ""
    public_key: str = ""


@dataclass(frozen=True)
class PasswordPolicy:
    """PostfixAdmin's default ``password_validation``: 5 chars, 3 letters, 2 digits."""

    min_length: int = 5
    min_letters: int = 3
    min_digits: int = 2


@dataclass(frozen=True)
class Server:
    name: str
    postfixadmin: PostfixAdminSettings
    ipv4: str
    ipv6: str | None = None
    mx: MxSettings = MxSettings()
    imap: Endpoint = Endpoint("", 993)
    pop3: Endpoint = Endpoint("", 995)
    smtp: Endpoint = Endpoint("", 587)
    dkim: DkimSettings = DkimSettings()
    password_policy: PasswordPolicy = PasswordPolicy()


@dataclass(frozen=True)
class Nameserver:
    """A DNS vantage point: a public resolver or an authoritative server."""

    name: str
    address: str
    port: int = 53
    transport: Transport = "udp"


@dataclass(frozen=True)
class DnsSettings:
    timeout_s: float = 2.0
    resolvers: tuple[Nameserver, ...] = ()
    # None means "auto": find the authoritative servers from the parent's delegation.
    authoritative: tuple[Nameserver, ...] | None = None
    refresh_s: float = 30.0  # how often the propagation page checks again by itself


@dataclass(frozen=True)
class Config:
    servers: tuple[Server, ...]
    dns: DnsSettings
    store: str
    timezone: str = "Asia/Tokyo"
    source: str = "embedded demo defaults"
    # Support staff who sign in without a PostfixAdmin account: user -> password hash
    # (``mailmove staff-hash``), from secrets.toml's [staff_accounts], never from the YAML.
    staff_accounts: Mapping[str, str] = field(default_factory=dict, repr=False)

    def server(self, name: str | None = None) -> Server:
        """The named server, or the only one when there is just one."""
        if name is None:
            if len(self.servers) == 1:
                return self.servers[0]
            names = ", ".join(s.name for s in self.servers)
            raise ConfigError(f"several servers are configured ({names}): choose one with --server")
        for server in self.servers:
            if server.name == name:
                return server
        names = ", ".join(s.name for s in self.servers)
        raise ConfigError(f"no server named {name!r} in the configuration (known: {names})")


def demo_config(state_dir: Path = DEMO_STATE_DIR) -> Config:
    """The embedded defaults: the demo services on loopback, state in SQLite."""
    return Config(
        servers=(
            Server(
                name="demo",
                postfixadmin=PostfixAdminSettings(
                    url=f"http://127.0.0.1:{DEMO_PFA_PORT}/",
                    username="admin@mailmove.test",
                    password=os.environ.get("MAILMOVE_DEMO_PFA_PASSWORD", ""),
                ),
                ipv4="198.51.100.25",
                mx=MxSettings(strategy="keep-host", host="mx.mailmove-demo.test"),
                imap=Endpoint("mx.mailmove-demo.test", 993),
                pop3=Endpoint("mx.mailmove-demo.test", 995),
                smtp=Endpoint("mx.mailmove-demo.test", 587),
            ),
        ),
        dns=DnsSettings(
            timeout_s=2.0,
            resolvers=(Nameserver("demo-cache", *DEMO_CACHE_DNS),),
            authoritative=(Nameserver("demo-auth", *DEMO_AUTH_DNS),),
        ),
        store=f"sqlite:///{state_dir / 'mailmove.db'}",
    )


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """``--config`` wins, then ``$MAILMOVE_CONFIG``, then ``./mailmove.yaml`` if present."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.exists() else None


def load_config(
    explicit: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    secrets_file: Path | None = None,
) -> Config:
    """Read the configuration, or the demo defaults when there is no file."""
    path = config_path(explicit)
    if path is None or str(path) == DEMO:
        return demo_config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"configuration {path} is not valid YAML{where}") from None
    env = os.environ if environ is None else environ
    secrets = _read_secrets(secrets_file if secrets_file is not None else SECRETS_FILE)
    return parse_config(data, source=str(path), environ=env, secrets=secrets)


def parse_config(
    data: object,
    *,
    source: str = "<memory>",
    environ: Mapping[str, str] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> Config:
    """Validate a decoded YAML document; every message names the offending key."""
    env = os.environ if environ is None else environ
    top = _mapping(data, "configuration")
    raw_servers = top.get("servers")
    if not isinstance(raw_servers, list) or not raw_servers:
        raise ConfigError("servers: a list with at least one server is required")
    servers = tuple(
        _server(_mapping(item, f"servers[{i}]"), f"servers[{i}]", env, secrets or {})
        for i, item in enumerate(raw_servers)
    )
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        raise ConfigError("servers: every server needs a distinct name")
    dns = _dns(_mapping(top.get("dns", {}), "dns"))
    store = top.get("store", "sqlite:///var/state/mailmove.db")
    if not isinstance(store, str) or "://" not in store:
        raise ConfigError("store: a database URL such as sqlite:///var/state/mailmove.db")
    tz = _str(top.get("timezone", "Asia/Tokyo"), "timezone")
    staff = (secrets or {}).get("staff_accounts", {})
    if not isinstance(staff, dict) or not all(isinstance(v, str) for v in staff.values()):
        raise ConfigError('secrets.toml [staff_accounts]: user = "pbkdf2_sha256$..." lines')
    return Config(
        servers=servers,
        dns=dns,
        store=store,
        timezone=tz,
        source=source,
        staff_accounts={str(k).lower(): v for k, v in staff.items()},
    )


def _read_secrets(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError):
        raise ConfigError(f"{path} cannot be read as TOML") from None


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values")
    return cast(dict[str, Any], value)


def _str(value: object, where: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ConfigError(f"{where}: a non-empty text value is required")
    return value.strip()


def _port(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ConfigError(f"{where}: a port number between 1 and 65535 is required")
    return value


def _ip(value: object, where: str, version: int) -> str:
    text = _str(value, where)
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not an IPv{version} address") from None
    if addr.version != version:
        raise ConfigError(f"{where}: {text!r} is not an IPv{version} address")
    return str(addr)


def _endpoint(value: object, where: str, default_port: int) -> Endpoint:
    if value is None:
        return Endpoint("", default_port)
    data = _mapping(value, where)
    return Endpoint(
        _str(data.get("host"), f"{where}.host"),
        _port(data.get("port", default_port), f"{where}.port"),
    )


def _server(
    data: dict[str, Any], where: str, env: Mapping[str, str], secrets: Mapping[str, Any]
) -> Server:
    name = _str(data.get("name"), f"{where}.name")
    pfa_raw = _mapping(data.get("postfixadmin"), f"{where}.postfixadmin")
    backend = pfa_raw.get("backend", "http")
    if backend not in ("http", "cli"):
        raise ConfigError(f"{where}.postfixadmin.backend: http or cli")
    pfa = PostfixAdminSettings(
        url=_str(pfa_raw.get("url"), f"{where}.postfixadmin.url"),
        username=_str(pfa_raw.get("username"), f"{where}.postfixadmin.username", required=False),
        password=_password(pfa_raw, name, f"{where}.postfixadmin", env, secrets),
        backend=backend,
        cli_path=str(pfa_raw.get("cli_path", PostfixAdminSettings.cli_path)),
    )
    mx_raw = _mapping(data.get("mx", {}), f"{where}.mx")
    strategy = mx_raw.get("strategy", "keep-host")
    if strategy not in ("keep-host", "server-host"):
        raise ConfigError(f"{where}.mx.strategy: keep-host or server-host")
    mx_host = _str(mx_raw.get("host"), f"{where}.mx.host", required=False)
    if strategy == "server-host" and not mx_host:
        raise ConfigError(f"{where}.mx.host: required when strategy is server-host")
    dkim_raw = _mapping(data.get("dkim", {}), f"{where}.dkim")
    policy_raw = _mapping(data.get("password_policy", {}), f"{where}.password_policy")
    try:
        policy = PasswordPolicy(**{k: int(v) for k, v in policy_raw.items()})
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}.password_policy: min_length, min_letters, min_digits (numbers)"
        ) from None
    ipv6 = data.get("ipv6")
    return Server(
        name=name,
        postfixadmin=pfa,
        ipv4=_ip(data.get("ipv4"), f"{where}.ipv4", 4),
        ipv6=_ip(ipv6, f"{where}.ipv6", 6) if ipv6 else None,
        mx=MxSettings(strategy=strategy, host=mx_host),
        imap=_endpoint(data.get("imap"), f"{where}.imap", 993),
        pop3=_endpoint(data.get("pop3"), f"{where}.pop3", 995),
        smtp=_endpoint(data.get("smtp"), f"{where}.smtp", 587),
        dkim=DkimSettings(
            selector=_str(dkim_raw.get("selector"), f"{where}.dkim.selector", required=False),
            public_key=_str(dkim_raw.get("public_key"), f"{where}.dkim.public_key", required=False),
        ),
        password_policy=policy,
    )


def _password(
    pfa: dict[str, Any],
    server: str,
    where: str,
    env: Mapping[str, str],
    secrets: Mapping[str, Any],
) -> str:
    """A password comes from the environment or secrets.toml; inline only for local demos."""
    if "password_env" in pfa:
        var = _str(pfa["password_env"], f"{where}.password_env")
        return env.get(var, "")
    if "password" in pfa:
        return _str(pfa["password"], f"{where}.password")
    section = secrets.get("servers", {}).get(server, {}) if isinstance(secrets, dict) else {}
    value = section.get("postfixadmin_password", "") if isinstance(section, dict) else ""
    return value if isinstance(value, str) else ""


def _nameserver(data: dict[str, Any], where: str, *, allow_doh: bool) -> Nameserver:
    transport = data.get("transport", "udp")
    allowed = ("udp", "tcp", "doh") if allow_doh else ("udp", "tcp")
    if transport not in allowed:
        raise ConfigError(f"{where}.transport: one of {', '.join(allowed)}")
    address = _str(data.get("address"), f"{where}.address")
    if transport != "doh":
        address = _ip(address, f"{where}.address", 6 if ":" in address else 4)
    elif not address.startswith("https://"):
        raise ConfigError(f"{where}.address: a DoH resolver needs an https:// URL")
    return Nameserver(
        name=_str(data.get("name"), f"{where}.name"),
        address=address,
        port=_port(data.get("port", 443 if transport == "doh" else 53), f"{where}.port"),
        transport=transport,
    )


def _dns(data: dict[str, Any]) -> DnsSettings:
    timeout = data.get("timeout_s", 2.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError("dns.timeout_s: a positive number of seconds")
    raw_resolvers = data.get("resolvers", [])
    if not isinstance(raw_resolvers, list):
        raise ConfigError("dns.resolvers: a list of {name, address, port, transport}")
    resolvers = tuple(
        _nameserver(_mapping(r, f"dns.resolvers[{i}]"), f"dns.resolvers[{i}]", allow_doh=True)
        for i, r in enumerate(raw_resolvers)
    )
    auth_raw = data.get("authoritative", "auto")
    authoritative: tuple[Nameserver, ...] | None
    if auth_raw == "auto":
        authoritative = None
    elif isinstance(auth_raw, list) and auth_raw:
        authoritative = tuple(
            _nameserver(
                _mapping(a, f"dns.authoritative[{i}]"), f"dns.authoritative[{i}]", allow_doh=False
            )
            for i, a in enumerate(auth_raw)
        )
    else:
        raise ConfigError("dns.authoritative: auto, or a list of {name, address, port}")
    refresh = data.get("refresh_s", 30)
    if isinstance(refresh, bool) or not isinstance(refresh, int | float) or refresh <= 0:
        raise ConfigError("dns.refresh_s: a positive number of seconds")
    return DnsSettings(
        timeout_s=float(timeout),
        resolvers=resolvers,
        authoritative=authoritative,
        refresh_s=float(refresh),
    )


def masked(config: Config) -> dict[str, Any]:
    """The configuration as plain data with every secret replaced, safe to print."""
    return {
        "source": config.source,
        "store": config.store,
        "timezone": config.timezone,
        "servers": [
            {
                "name": s.name,
                "postfixadmin": {
                    "url": s.postfixadmin.url,
                    "username": s.postfixadmin.username,
                    "password": "********" if s.postfixadmin.password else "(not set)",
                    "backend": s.postfixadmin.backend,
                },
                "ipv4": s.ipv4,
                "ipv6": s.ipv6,
                "mx": {"strategy": s.mx.strategy, "host": s.mx.host},
            }
            for s in config.servers
        ],
        "dns": {
            "timeout_s": config.dns.timeout_s,
            "refresh_s": config.dns.refresh_s,
            "resolvers": [
                f"{r.name} {r.address}:{r.port}/{r.transport}" for r in config.dns.resolvers
            ],
            "authoritative": "auto"
            if config.dns.authoritative is None
            else [f"{a.name} {a.address}:{a.port}" for a in config.dns.authoritative],
        },
    }
