"""The building blocks of the records generator, without any DNS server."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
import spf

from mailmove.config import Nameserver
from mailmove.i18n import catalog
from mailmove.lookup import DnsUnavailable, absolute, interpret
from mailmove.records import (
    RecordsInputError,
    StaticDns,
    _dmarc,
    _spf,
    check_domain,
    compute_records,
    host_label,
    quote_txt,
    split_txt,
)
from mailmove.records._dkim import DkimKey, key_bits, normalise_key, same_key
from mailmove.records._mx import is_ip_literal, parse_mx
from mailmove.testbed.dns import make_zone
from tests.unit.test_records_cases import KEY, KEY_1024, NOW, make_server

ROOT = Path(__file__).parents[2]


# -- how values are written ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "domain", "label"),
    [
        ("example.jp", "example.jp", "@"),
        ("Example.JP.", "example.jp", "@"),
        ("mail.example.jp", "example.jp", "mail"),
        ("_dmarc.example.jp.", "example.jp.", "_dmarc"),
        ("mm2026._domainkey.example.co.jp", "example.co.jp", "mm2026._domainkey"),
        ("mx.old-host.example.net", "example.jp", "mx.old-host.example.net."),
        ("notexample.jp", "example.jp", "notexample.jp."),
    ],
)
def test_host_label_is_what_registrar_screens_want(name: str, domain: str, label: str) -> None:
    assert host_label(name, domain) == label


@pytest.mark.parametrize(
    ("length", "pieces"),
    [(10, [10]), (255, [255]), (256, [255, 1]), (410, [255, 155]), (600, [255, 255, 90])],
)
def test_split_txt_cuts_at_255_octets_and_joins_back(length: int, pieces: list[int]) -> None:
    value = "".join(chr(ord("a") + i % 26) for i in range(length))
    strings = split_txt(value)
    assert [len(s) for s in strings] == pieces
    assert "".join(strings) == value


def test_split_txt_at_spaces_keeps_spf_terms_whole() -> None:
    terms = [f"include:_spf{i}.example-provider-with-a-long-name.jp" for i in range(8)]
    record = "v=spf1 " + " ".join(terms) + " ~all"
    strings = split_txt(record, at_spaces=True)
    assert "".join(strings) == record
    assert all(len(s) <= 255 for s in strings)
    assert all(s.startswith((" include:", "v=spf1")) for s in strings)


def test_split_txt_never_cuts_a_multibyte_character() -> None:
    value = "あ" * 100  # 300 octets
    strings = split_txt(value)
    assert [len(s.encode()) for s in strings] == [255, 45]
    assert "".join(strings) == value


@pytest.mark.parametrize(
    "text",
    ["v=spf1 mx ~all", 'say "hi"', "back\\slash", "tab\there", "日本語"],
)
def test_zone_file_quoting_round_trips_through_dnspython(text: str) -> None:
    zone_form = quote_txt(split_txt(text))
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, zone_form)
    assert b"".join(rdata.strings).decode() == text  # type: ignore[attr-defined]


# -- SPF -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=spf1", True),
        ("v=spf1 mx -all", True),
        ("V=SPF1 mx -all", True),
        ("v=spf10 mx", False),
        (" v=spf1 mx", False),
        ("v=spf1mx~all", False),
        ("google-site-verification=abc", False),
    ],
)
def test_is_spf(text: str, expected: bool) -> None:
    assert _spf.is_spf(text) is expected


@pytest.mark.parametrize(
    ("strings", "expected"),
    [
        (("v=spf1 mx ~all",), None),
        (('"v=spf1 mx ~all"',), ("spf_literal_quotes", "v=spf1 mx ~all")),
        (("v=spf1", "mx", "~all"), ("spf_split_at_spaces", "v=spf1 mx ~all")),
        (("hello",), None),
    ],
)
def test_registrar_damage_is_recognised(
    strings: tuple[str, ...], expected: tuple[str, str] | None
) -> None:
    assert _spf.repaired(strings) == expected


def _zone(records: str) -> StaticDns:
    return StaticDns({"s.test": make_zone("s.test", records)})


@pytest.mark.parametrize(
    ("record", "count"),
    [
        ("v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 -all", 0),
        ("v=spf1 a mx ptr exists:%{i}.x.s.test -all", 4),
        ("v=spf1 include:_a.s.test -all", 3),  # include + the two lookups inside _a
        ("v=spf1 mx -all redirect=_a.s.test", 1),  # redirect ignored next to all
        ("v=spf1 mx redirect=_a.s.test", 4),
        ("v=spf1 -all include:_a.s.test", 0),  # nothing after all is evaluated
        ("v=spf1 include:_loop.s.test -all", 2),  # a loop is counted once, not forever
    ],
)
def test_lookup_count_follows_includes_and_redirects(record: str, count: int) -> None:
    data = _zone(
        '_a 300 IN TXT "v=spf1 a mx -all"\n_loop 300 IN TXT "v=spf1 include:_loop.s.test -all"'
    )
    assert _spf.count_lookups(record, data).count == count


def test_lookup_count_reports_void_and_unchecked_targets() -> None:
    data = _zone('_empty 300 IN TXT "not spf"')
    counted = _spf.count_lookups(
        "v=spf1 include:_empty.s.test include:_spf.elsewhere.example -all", data
    )
    assert counted.count == 2
    assert counted.void == ["_empty.s.test"]
    assert counted.unchecked == ["_spf.elsewhere.example"]


def test_pyspf_resolves_through_the_bound_data_only() -> None:
    data = _zone('_inc 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"')
    record = "v=spf1 include:_inc.s.test -all"
    assert _spf.evaluate(record, "198.51.100.25", "s.test", "mx.s.test", data) == "pass"
    assert _spf.evaluate(record, "192.0.2.1", "s.test", "mx.s.test", data) == "fail"
    assert spf.DNSLookup is _spf._dns_lookup  # installed once, dispatching per evaluation


def test_merge_keeps_every_term_and_the_qualifier() -> None:
    data = _zone("")
    proposal = _spf.propose(
        (("v=spf1 a mx include:_spf.s.test ", "exp=explain.s.test ?all"),),
        "s.test",
        "198.51.100.25",
        None,
        "mx.s.test",
        data,
    )
    assert proposal.record == (
        "v=spf1 ip4:198.51.100.25 a mx include:_spf.s.test exp=explain.s.test ?all"
    )
    assert "spf_permissive_all" in [n.code for n in proposal.notices]


# -- DKIM -------------------------------------------------------------------------------------


def test_dkim_key_forms_normalise_to_the_same_p_value() -> None:
    pem = (ROOT / "tests/data/records/dkim-2048.pub.pem").read_text()
    assert normalise_key(pem) == KEY
    assert normalise_key(KEY[:60] + "\n  " + KEY[60:]) == KEY
    assert normalise_key(f"v=DKIM1; k=rsa; p={KEY}") == KEY
    assert KEY.startswith("MIIBIjANBgkqhkiG9w0B")


def test_dkim_compares_the_decoded_key_only() -> None:
    ours = DkimKey("mm2026", KEY)
    assert same_key(f"v=DKIM1; k=rsa; p={KEY}", ours)
    assert same_key(f"p={KEY[:100]} {KEY[100:]}; t=s; k=rsa", ours)  # OVH-style spaces, t=s
    assert not same_key("v=DKIM1; k=rsa; p=", ours)
    assert not same_key(f"v=DKIM1; p={normalise_key(KEY_1024)}", ours)
    assert key_bits(ours) == 2048
    assert key_bits(DkimKey("old", normalise_key(KEY_1024))) == 1024
    assert key_bits(DkimKey("bad", "bm90IGEga2V5")) is None


# -- DMARC ------------------------------------------------------------------------------------


def test_dmarc_parsing() -> None:
    record = (
        "v=DMARC1; p=Reject; rua=mailto:a@rep.example.net!10m, mailto:b@example.co.jp;"
        " ruf=mailto:f@x.jp"
    )
    assert _dmarc.is_dmarc(record)
    assert not _dmarc.is_dmarc("p=reject; v=DMARC1")
    assert _dmarc.policy(record) == "reject"
    assert _dmarc.report_addresses(record) == ["a@rep.example.net", "b@example.co.jp", "f@x.jp"]


@pytest.mark.parametrize(
    ("domain", "address", "external"),
    [
        ("example.co.jp", "dmarc@example.co.jp", False),
        ("example.co.jp", "dmarc@reports.example.co.jp", False),
        ("sub.example.co.jp", "dmarc@example.co.jp", False),
        ("example.co.jp", "dmarc@other.co.jp", True),
        ("example.jp", "rua@dmarc-vendor.example.com", True),
        ("t1.test", "dmarc@t2.test", True),
    ],
)
def test_external_report_address_uses_the_public_suffix_list(
    domain: str, address: str, external: bool
) -> None:
    assert _dmarc.is_external(domain, address) is external


def test_authorisation_record_name() -> None:
    name = _dmarc.authorisation_name("example.jp", "rua@Vendor.example.com.")
    assert name == "example.jp._report._dmarc.vendor.example.com"


# -- MX ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "literal"),
    [
        ("192.0.2.25.", True),
        ("192.0.2.25.example.jp.", True),
        ("mail.example.jp.", False),
        ("10.example.jp.", False),
        ("2001:db8::25", True),
    ],
)
def test_ip_literal_in_an_mx_box(target: str, literal: bool) -> None:
    assert is_ip_literal(target, "example.jp.") is literal


def test_parse_mx() -> None:
    assert parse_mx(("10 mail.example.jp.", "0 .")) == [(10, "mail.example.jp."), (0, ".")]


# -- the computation's edges -------------------------------------------------------------------


def test_nobody_answering_is_not_a_missing_record() -> None:
    server = make_server()
    with pytest.raises(DnsUnavailable):
        compute_records(StaticDns({}), "gone.test", server, dkim_key=None, now=NOW)


def test_a_domain_that_does_not_exist_blocks() -> None:
    data = StaticDns({"test": make_zone("test", "")})
    plan = compute_records(data, "typo.test", make_server(), dkim_key=None, now=NOW)
    assert plan.blocked
    assert [n.code for n in plan.notices] == ["domain_not_found"]
    assert plan.records == ()


def test_bad_report_address_is_an_input_error() -> None:
    data = StaticDns({"s.test": make_zone("s.test", "")})
    with pytest.raises(RecordsInputError):
        compute_records(data, "s.test", make_server(), dkim_key=None, now=NOW, rua="not a mailbox")


def test_switch_time_is_shown_in_the_configured_zone() -> None:
    data = StaticDns(
        {"s.test": make_zone("s.test", "@ 7200 IN MX 10 mail\nmail 7200 IN A 192.0.2.1")}
    )
    now = datetime(2026, 5, 1, 23, 30, tzinfo=UTC)
    plan = compute_records(
        data, "s.test", make_server(), dkim_key=None, now=now, timezone="Asia/Tokyo"
    )
    assert plan.switch_not_before.isoformat() == "2026-05-02T10:30:00+09:00"
    plan = compute_records(data, "s.test", make_server(), dkim_key=None, now=now, timezone="UTC")
    assert plan.switch_not_before.isoformat() == "2026-05-02T01:30:00+00:00"


@pytest.mark.parametrize(
    ("typed", "normal"),
    [("Example.JP", "example.jp"), ("example.jp.", "example.jp"), ("例え.jp", "xn--r8jz45g.jp")],
)
def test_check_domain(typed: str, normal: str) -> None:
    assert check_domain(typed) == normal


@pytest.mark.parametrize("typed", ["", "jp", "a..jp", "has space.jp", "x" * 64 + ".jp"])
def test_check_domain_rejects(typed: str) -> None:
    with pytest.raises(RecordsInputError):
        check_domain(typed)


# -- lookup: reading a response -----------------------------------------------------------------

SERVER = Nameserver("ns", "192.0.2.53")


def _response(
    qname: str, rdtype: str, rcode: int = dns.rcode.NOERROR, aa: bool = True
) -> dns.message.Message:
    query = dns.message.make_query(qname, rdtype)
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    if aa:
        response.flags |= dns.flags.AA
    return response


def test_interpret_nxdomain_carries_the_negative_ttl() -> None:
    r = _response("_dmarc.example.jp.", "TXT", dns.rcode.NXDOMAIN)
    r.authority.append(
        dns.rrset.from_text("example.jp.", 3600, "IN", "SOA", "ns1 host 1 3600 600 86400 300")
    )
    answer = interpret(r, SERVER, "_dmarc.example.jp", "TXT")
    assert (answer.status, answer.negative_ttl, answer.authoritative) == ("nxdomain", 300, True)


@pytest.mark.parametrize(
    ("rcode", "status"),
    [(dns.rcode.SERVFAIL, "servfail"), (dns.rcode.REFUSED, "refused"), (dns.rcode.NOTIMP, "error")],
)
def test_interpret_failures_are_not_definitive(rcode: int, status: str) -> None:
    answer = interpret(_response("example.jp.", "MX", rcode), SERVER, "example.jp", "MX")
    assert answer.status == status
    assert not answer.definitive


def test_interpret_follows_a_cname_chain_in_the_answer() -> None:
    r = _response("mx.example.jp.", "A")
    r.answer.append(dns.rrset.from_text("mx.example.jp.", 300, "IN", "CNAME", "mail.example.jp."))
    r.answer.append(dns.rrset.from_text("mail.example.jp.", 600, "IN", "A", "192.0.2.25"))
    answer = interpret(r, SERVER, "mx.example.jp", "A")
    assert (answer.status, answer.values, answer.ttl) == ("ok", ("192.0.2.25",), 600)
    assert answer.cnames == ("mail.example.jp.",)
    assert answer.target == "mail.example.jp."


def test_interpret_referral_from_a_non_authoritative_server() -> None:
    r = _response("example.jp.", "MX", aa=False)
    r.authority.append(dns.rrset.from_text("example.jp.", 86400, "IN", "NS", "ns1.example.jp."))
    assert interpret(r, SERVER, "example.jp", "MX").status == "referral"


def test_absolute_names() -> None:
    assert absolute("Example.JP") == "example.jp."
    assert absolute("例え.jp") == "xn--r8jz45g.jp."


# -- every notice has its text -----------------------------------------------------------------


def test_every_notice_code_has_japanese_and_english_text() -> None:
    codes: set[str] = set()
    for path in (ROOT / "mailmove" / "records").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Notice"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                codes.add(str(node.args[0].value))
    assert len(codes) > 30, "the scan found too few notices"
    missing = sorted(c for c in codes if f"records.notice.{c}" not in catalog())
    assert not missing
