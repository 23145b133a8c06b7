"""A real local DNS test bed: Knot DNS as the authoritative, Unbound as a caching resolver.

Why real servers: propagation checks depend on behaviour that fakes get subtly wrong (AA flag,
remaining TTL counting down in a cache, negative caching, timeouts of a dead server). Both
daemons run from generated configs under one ``base_dir``; nothing in /etc or /var is used,
everything binds to 127.0.0.x, and every process is stopped on ``stop()``, on leaving a
``with`` block, or at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.tokenizer
import dns.zonefile

from mailmove.testbed._os import free_port

KNOTD = "/usr/sbin/knotd"
KNOTC = "/usr/sbin/knotc"
UNBOUND = "/usr/sbin/unbound"
UNBOUND_CONTROL = "/usr/sbin/unbound-control"

READY_TIMEOUT = 10.0
# Unix socket paths are limited to 108 bytes (sun_path); fail early with a clear message.
_MAX_SOCKET_PATH = 100
# Default local zones Unbound answers itself (RFC 6761 and friends). Test zones live below
# them; switched off so an unknown test name is REFUSED like any other, not a local NXDOMAIN.
_UNBOUND_NODEFAULT = ("test.", "invalid.", "onion.", "home.arpa.")

_running: set[_Daemon] = set()
_running_lock = threading.Lock()
_serials = itertools.count(int(time.time()))
_serial_lock = threading.Lock()


class DnsTestbedError(RuntimeError):
    """A test-bed daemon failed to start, to answer, or to apply a change (log tail included)."""


def next_serial() -> int:
    """A serial larger than any handed out before in this process (so reloads are visible)."""
    with _serial_lock:
        return next(_serials)


def make_zone(
    origin: str,
    records: str = "",
    serial: int | None = None,
    soa_minimum: int = 60,
    ttl: int = 300,
    ns: str | Mapping[str, str] = "ns1",
) -> str:
    """Build a complete master-file zone (``$ORIGIN``, ``$TTL``, SOA, NS) around ``records``.

    ``records`` is master-file text relative to ``origin`` (``@``, ``www``, ...).
    ``serial=None`` takes :func:`next_serial`, so every call yields a newer zone.
    ``ns`` is an NS host name (relative or absolute), or ``{host: ipv4}`` to also add glue
    A records for in-zone hosts. The default ``ns1`` gets ``A 127.0.0.2`` unless ``records``
    already defines ``ns1``.
    """
    origin = _norm(origin) + "."
    serial = next_serial() if serial is None else serial
    hosts: Mapping[str, str | None]
    if isinstance(ns, str):
        defines_ns1 = any(line.split()[:1] == ["ns1"] for line in records.splitlines())
        hosts = {ns: "127.0.0.2" if ns == "ns1" and not defines_ns1 else None}
    else:
        hosts = ns
    lines = [
        f"$ORIGIN {origin}",
        f"$TTL {ttl}",
        f"@ {ttl} IN SOA {next(iter(hosts))} hostmaster {serial} 3600 600 86400 {soa_minimum}",
    ]
    lines += [f"@ {ttl} IN NS {host}" for host in hosts]
    lines += [f"{host} {ttl} IN A {ip}" for host, ip in hosts.items() if ip]
    return "\n".join(lines) + "\n" + records.strip("\n") + "\n"


def zone_serial(origin: str, text: str) -> int:
    """Read the apex SOA serial from zone text (what ``set_zone`` waits to see served).

    Parsed as plain records, not as a ``dns.zone.Zone``: that would reject the intentionally
    broken test zones (CNAME and other data) that Knot is told to load anyway.
    """
    apex = dns.name.from_text(_norm(origin) + ".")
    manager = dns.zonefile.RRSetsReaderManager(apex, False, dns.rdataclass.IN)
    with manager.writer(True) as txn:
        txn.check_put_rdataset = lambda _check: None  # type: ignore[method-assign]
        tokens = dns.tokenizer.Tokenizer(text, f"<zone {apex}>")
        dns.zonefile.Reader(tokens, dns.rdataclass.IN, txn, allow_directives=True).read()
    for rrset in manager.rrsets:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == apex:
            return int(rrset[0].serial)
    raise ValueError(f"zone {apex} has no SOA record at its apex")


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _query(
    address: str, port: int, qname: str, rdtype: str, *, rd: bool, timeout: float
) -> dns.message.Message:
    query = dns.message.make_query(qname, rdtype)
    if not rd:
        query.flags &= ~dns.flags.RD
    return dns.query.udp(query, address, port=port, timeout=timeout)


@atexit.register
def _stop_all() -> None:
    """Safety net: a test run that forgot ``stop()`` must not leave daemons behind."""
    with _running_lock:
        daemons = list(_running)
    for daemon in daemons:
        with contextlib.suppress(Exception):
            daemon.stop()


class _Daemon:
    """Shared process handling: spawn in the foreground, wait until it answers, stop for sure."""

    name = "daemon"

    def __init__(self, base_dir: Path | str, address: str, port: int | None) -> None:
        if not address.startswith("127."):
            raise ValueError(f"test-bed servers bind to 127.0.0.x only, not {address}")
        self.base_dir = Path(base_dir).resolve()
        self.address = address
        self.port = port if port is not None else free_port(address)
        self.log_path = self.base_dir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # -- subclass hooks -------------------------------------------------------------------
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _prepare(self) -> None:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the daemon and return once it answers queries (raises with the log tail)."""
        if self.running:
            return
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._prepare()
        with self.log_path.open("ab") as log:
            # Own session: a Ctrl-C in the terminal reaches pytest, which stops us cleanly.
            self._proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        with _running_lock:
            _running.add(self)
        try:
            self._wait(self._ready, f"{self.name} on {self.address}@{self.port} to answer")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the daemon (TERM, then KILL) and wait for it, so its port is free again."""
        proc, self._proc = self._proc, None
        with _running_lock:
            _running.discard(self)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers --------------------------------------------------------------------------
    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _wait(self, check: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT) -> None:
        """Poll ``check`` until true; fail fast if the process died, with the log tail."""
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                code = self._proc.returncode
                raise DnsTestbedError(
                    f"{self.name} exited ({code}) while waiting for {what}:\n{self.log_tail()}"
                )
            if check():
                return
            if time.monotonic() > deadline:
                raise DnsTestbedError(
                    f"timed out after {timeout:.0f}s waiting for {what}; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _socket_path(self, filename: str) -> Path:
        path = self.base_dir / filename
        if len(str(path)) > _MAX_SOCKET_PATH:
            raise DnsTestbedError(f"control socket path too long for a unix socket: {path}")
        return path

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.address}@{self.port} {state}>"


class AuthoritativeServer(_Daemon):
    """Knot DNS serving test zones from files under ``base_dir``.

    Zone files are never rewritten by Knot (no zonefile sync, no journal), semantic checks are
    soft so intentionally broken zones (CNAME plus other data, MX to a CNAME, ...) still load,
    and :meth:`set_zone` returns only once the new SOA serial is served, so tests never race.
    """

    name = "knot"

    def __init__(
        self,
        base_dir: Path | str,
        zones: Mapping[str, str] | None = None,
        *,
        address: str = "127.0.0.2",
        port: int | None = None,
    ) -> None:
        super().__init__(base_dir, address, port)
        self._zones: dict[str, str] = {_norm(k): v for k, v in (zones or {}).items()}
        self.conf_path = self.base_dir / "knot.conf"
        self.zone_dir = self.base_dir / "zones"

    @property
    def zones(self) -> dict[str, str]:
        """Zone name (no trailing dot) -> zone text, as currently configured."""
        return dict(self._zones)

    def query(self, qname: str, rdtype: str = "A", timeout: float = 2.0) -> dns.message.Message:
        """Ask this server directly over UDP, without recursion (like a propagation check)."""
        return _query(self.address, self.port, qname, rdtype, rd=False, timeout=timeout)

    def set_zone(self, name: str, text: str) -> None:
        """Add or replace a zone and wait until its new SOA serial is served.

        The serial must differ from the previous text's serial: otherwise the reload could not
        be observed (see :func:`make_zone`, which picks a fresh serial by default).
        """
        name = _norm(name)
        serial = zone_serial(name, text)
        old = self._zones.get(name)
        if old is not None and zone_serial(name, old) == serial:
            raise ValueError(
                f"zone {name}: serial {serial} unchanged, the reload would be invisible"
            )
        self._zones[name] = text
        self._write_zone(name)
        if not self.running:
            return
        if old is None:
            self._write_conf()
            self._knotc("reload")
        else:
            self._knotc("zone-reload", name)
        self._wait_serial(name, serial)

    def remove_zone(self, name: str) -> None:
        """Stop serving a zone (the server then answers REFUSED for it) and delete its file."""
        name = _norm(name)
        if self._zones.pop(name, None) is None:
            raise KeyError(name)
        if self.running:
            self._write_conf()
            self._knotc("reload")
            self._wait(lambda: not self._serves(name), f"knot to drop zone {name}")
        (self.zone_dir / f"{name}.zone").unlink(missing_ok=True)

    def serial(self, name: str) -> int | None:
        """The SOA serial the server currently serves for ``name`` (None if not served)."""
        try:
            response = self.query(name, "SOA", timeout=0.5)
        except dns.exception.Timeout:
            return None
        if response.rcode() != dns.rcode.NOERROR or not response.flags & dns.flags.AA:
            return None
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return int(rrset[0].serial)
        return None

    # -- internals ------------------------------------------------------------------------
    def _serves(self, name: str) -> bool:
        return self.serial(name) is not None

    def _wait_serial(self, name: str, serial: int) -> None:
        self._wait(lambda: self.serial(name) == serial, f"knot to serve {name} serial {serial}")

    def _write_zone(self, name: str) -> None:
        self.zone_dir.mkdir(parents=True, exist_ok=True)
        path = self.zone_dir / f"{name}.zone"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self._zones[name])
        os.replace(tmp, path)  # Knot never sees a half-written file

    def _write_conf(self) -> None:
        base = self.base_dir
        zones = "".join(f'  - domain: "{z}."\n' for z in sorted(self._zones))
        conf = f"""\
# Generated by mailmove.testbed.dns; rewritten on every start and zone list change.
server:
    rundir: "{base}/run"
    pidfile: "{base}/run/knot.pid"
    listen: {self.address}@{self.port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

control:
    listen: "{self._socket_path("knot.sock")}"

log:
  - target: stderr
    any: info

database:
    storage: "{base}/db"
    journal-db: "{base}/db/journal"
    kasp-db: "{base}/db/keys"
    timer-db: "{base}/db/timers"
    catalog-db: "{base}/db/catalog"

template:
  - id: default
    storage: "{self.zone_dir}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: soft
{"zone:" if zones else ""}
{zones}"""
        tmp = self.conf_path.with_suffix(".tmp")
        tmp.write_text(conf)
        os.replace(tmp, self.conf_path)

    def _prepare(self) -> None:
        (self.base_dir / "run").mkdir(parents=True, exist_ok=True)
        (self.base_dir / "db").mkdir(parents=True, exist_ok=True)
        for name in self._zones:
            self._write_zone(name)
        self._write_conf()

    def _command(self) -> list[str]:
        return [KNOTD, "-c", str(self.conf_path)]

    def _ready(self) -> bool:
        return (
            all(self.serial(name) == zone_serial(name, text) for name, text in self._zones.items())
            and self._answers()
        )

    def _answers(self) -> bool:
        try:
            self.query(".", "SOA", timeout=0.3)  # REFUSED is fine: the server is up
        except (dns.exception.Timeout, OSError):
            return False
        return True

    def _knotc(self, *args: str) -> None:
        cmd = [KNOTC, "-c", str(self.conf_path), "-t", "10", *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise DnsTestbedError(
                f"{' '.join(cmd)} failed: {result.stdout}{result.stderr}\n{self.log_tail()}"
            )


Stub = tuple[str, int]


class CachingResolver(_Daemon):
    """Unbound as a recursive cache whose only upstreams are stub zones on test servers.

    Configured so cache effects are visible: ``cache-min-ttl: 0``, no prefetch, no serve-stale,
    so a cached answer's TTL counts down and is refetched once it expires. Every name outside
    the stub zones is REFUSED at once, so nothing ever goes to the internet.
    """

    name = "unbound"

    def __init__(
        self,
        base_dir: Path | str,
        stubs: Mapping[str, AuthoritativeServer | Stub] | None = None,
        *,
        address: str = "127.0.0.3",
        port: int | None = None,
    ) -> None:
        super().__init__(base_dir, address, port)
        self._stubs: dict[str, AuthoritativeServer | Stub] = {
            _norm(k): v for k, v in (stubs or {}).items()
        }
        self.conf_path = self.base_dir / "unbound.conf"

    @property
    def stubs(self) -> dict[str, Stub]:
        """Zone -> (address, port) of the authoritative Unbound asks for it."""
        return {zone: self._target(server) for zone, server in self._stubs.items()}

    def query(self, qname: str, rdtype: str = "A", timeout: float = 2.0) -> dns.message.Message:
        """Ask the cache (recursion desired), as a customer's resolver would be asked."""
        return _query(self.address, self.port, qname, rdtype, rd=True, timeout=timeout)

    def resolver(self, timeout: float = 2.0) -> dns.resolver.Resolver:
        """A dnspython resolver using only this cache (no resolv.conf, no client-side cache)."""
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = [self.address]
        res.port = self.port
        res.timeout = res.lifetime = timeout
        return res

    def add_stub(self, zone: str, server: AuthoritativeServer | Stub) -> None:
        """Send queries for ``zone`` to ``server``; applied live, the cache is kept."""
        zone = _norm(zone)
        if zone in self._stubs and self.running:
            self._control("stub_remove", zone + ".")
        self._stubs[zone] = server
        if self.running:
            self._write_conf()
            address, port = self._target(server)
            self._control("local_zone", zone + ".", "transparent")
            self._control("stub_add", zone + ".", f"{address}@{port}")
            self.flush(zone)

    def remove_stub(self, zone: str) -> None:
        """Forget the stub for ``zone`` (queries for it are then REFUSED)."""
        zone = _norm(zone)
        self._stubs.pop(zone)
        if self.running:
            self._write_conf()
            self._control("stub_remove", zone + ".")
            self._control("local_zone_remove", zone + ".")
            self.flush(zone)

    def flush(self, name: str | None = None) -> None:
        """Drop cached data at and below ``name`` (everything if None), incl. server state.

        The infra cache is flushed too: after an authoritative was down, Unbound would
        otherwise keep treating it as unresponsive for a while.
        """
        self._control("flush_zone", (_norm(name) + ".") if name else ".")
        self._control("flush_infra", "all")
        self._control("flush_requestlist")

    # -- internals ------------------------------------------------------------------------
    @staticmethod
    def _target(server: AuthoritativeServer | Stub) -> Stub:
        if isinstance(server, AuthoritativeServer):
            return server.address, server.port
        return server

    def _control(self, *args: str) -> str:
        cmd = [UNBOUND_CONTROL, "-c", str(self.conf_path), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0 or result.stdout.startswith("error"):
            raise DnsTestbedError(
                f"{' '.join(cmd)} failed: {result.stdout}{result.stderr}\n{self.log_tail()}"
            )
        return result.stdout

    def _write_conf(self) -> None:
        base = self.base_dir
        nodefault = "\n".join(f'    local-zone: "{z}" nodefault' for z in _UNBOUND_NODEFAULT)
        stubs = sorted(self.stubs.items())
        transparent = "".join(f'    local-zone: "{zone}." transparent\n' for zone, _ in stubs)
        stub_zones = "".join(
            f'\nstub-zone:\n    name: "{zone}."\n    stub-addr: {address}@{port}\n'
            for zone, (address, port) in stubs
        )
        conf = f"""\
# Generated by mailmove.testbed.dns; rewritten on every start and stub change.
server:
    verbosity: 1
    use-syslog: no
    logfile: "{self.log_path}"
    log-time-ascii: yes
    directory: "{base}"
    chroot: ""
    username: ""
    pidfile: "{base}/unbound.pid"
    interface: {self.address}@{self.port}
    port: {self.port}
    outgoing-interface: {self.address}
    do-ip4: yes
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    num-threads: 1
    so-reuseport: no
    module-config: "iterator"
    do-not-query-localhost: no
    root-hints: "{base}/root.hints"
    cache-min-ttl: 0
    serve-expired: no
    prefetch: no
    prefetch-key: no
    qname-minimisation: no
    infra-keep-probing: yes
    msg-cache-size: 4m
    rrset-cache-size: 8m
    # Refuse everything except our stub zones: a name outside them must fail at once, not
    # hang on a root that is not there (Unbound never answers if priming fails).
    local-zone: "." refuse
{transparent}{nodefault}

remote-control:
    control-enable: yes
    control-interface: "{self._socket_path("unbound.ctl")}"
    control-use-cert: no
{stub_zones}"""
        tmp = self.conf_path.with_suffix(".tmp")
        tmp.write_text(conf)
        os.replace(tmp, self.conf_path)

    def _prepare(self) -> None:
        # Unbound insists on root hints; these are never used (everything else is refused), and
        # point at a dead loopback address rather than the real root servers just in case.
        (self.base_dir / "root.hints").write_text(
            ".                 3600000 IN NS a.root.invalid.\n"
            "a.root.invalid.   3600000 IN A  127.0.0.254\n"
        )
        self._write_conf()

    def _command(self) -> list[str]:
        return [UNBOUND, "-d", "-c", str(self.conf_path)]

    def _ready(self) -> bool:
        try:
            response = self.query("localhost.", "A", timeout=0.3)  # a built-in local zone
        except (dns.exception.Timeout, OSError):
            return False
        if response.rcode() != dns.rcode.NOERROR:
            return False
        status = subprocess.run(
            [UNBOUND_CONTROL, "-c", str(self.conf_path), "status"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return status.returncode == 0


def packaged_zones() -> dict[str, str]:
    """The demo zones shipped in ``mailmove/testbed/zones``: zone name -> zone text."""
    folder = Path(__file__).with_name("zones")
    return {p.name.removesuffix(".zone"): p.read_text() for p in sorted(folder.glob("*.zone"))}
