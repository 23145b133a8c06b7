"""Setup files parse (XML, plist) and an Apple profile keeps its UUIDs between downloads."""
# ruff: noqa: S314  (parsing XML we generated ourselves, not untrusted input)

from __future__ import annotations

import plistlib
import uuid
import xml.etree.ElementTree as ET

from mailmove.config import Endpoint, demo_config
from mailmove.oldmail import (
    NewServer,
    SetupRenderer,
    apple_mobileconfig,
    outlook_autodiscover,
    profile_uuids,
    thunderbird_autoconfig,
)

SERVER = NewServer.from_config(demo_config().server())
AD = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
OL = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"


def test_thunderbird_autoconfig_parses_and_prefers_imap() -> None:
    root = ET.fromstring(thunderbird_autoconfig("yamada-shoji.test", SERVER))
    assert root.tag == "clientConfig"
    assert root.get("version") == "1.1"
    provider = root.find("emailProvider")
    assert provider is not None
    assert provider.get("id") == "yamada-shoji.test"
    incoming = provider.findall("incomingServer")
    assert [s.get("type") for s in incoming] == ["imap", "pop3"]
    assert incoming[0].findtext("hostname") == "mx.mailmove-demo.test"
    assert incoming[0].findtext("port") == "993"
    assert incoming[0].findtext("socketType") == "SSL"
    assert incoming[0].findtext("username") == "%EMAILADDRESS%"
    smtp = provider.find("outgoingServer")
    assert smtp is not None
    assert smtp.findtext("socketType") == "STARTTLS"
    pop_first = ET.fromstring(thunderbird_autoconfig("x.test", SERVER, prefer="pop3"))
    assert pop_first.find("emailProvider/incomingServer").get("type") == "pop3"  # type: ignore[union-attr]


def test_outlook_autodiscover_parses_with_ssl_and_starttls_right() -> None:
    root = ET.fromstring(outlook_autodiscover("taro@yamada-shoji.test", SERVER, name="山田 <太郎>"))
    assert root.tag == AD + "Autodiscover"
    response = root.find(OL + "Response")
    assert response is not None
    assert response.findtext(f"{OL}User/{OL}DisplayName") == "山田 <太郎>"
    protocols = {p.findtext(OL + "Type"): p for p in response.iter(OL + "Protocol")}
    assert set(protocols) == {"IMAP", "SMTP"}
    imap, smtp = protocols["IMAP"], protocols["SMTP"]
    assert imap.findtext(OL + "SSL") == "on"
    assert imap.findtext(OL + "LoginName") == "taro@yamada-shoji.test"
    assert smtp.findtext(OL + "Encryption") == "TLS"  # 587: STARTTLS, not <SSL>on</SSL>
    assert smtp.find(OL + "SSL") is None


def test_mobileconfig_loads_and_is_an_imap_account_without_password() -> None:
    profile = plistlib.loads(apple_mobileconfig("taro@yamada-shoji.test", SERVER, name="山田"))
    assert profile["PayloadType"] == "Configuration"
    assert profile["PayloadVersion"] == 1
    (mail,) = profile["PayloadContent"]
    assert mail["PayloadType"] == "com.apple.mail.managed"
    assert mail["EmailAccountType"] == "EmailTypeIMAP"
    assert mail["IncomingMailServerHostName"] == "mx.mailmove-demo.test"
    assert mail["IncomingMailServerPortNumber"] == 993
    assert mail["IncomingMailServerUseSSL"] is True
    assert mail["OutgoingMailServerPortNumber"] == 587
    assert mail["EmailAccountName"] == "山田"
    assert not [
        k for k in mail if "Password" in k and k != "OutgoingPasswordSameAsIncomingPassword"
    ]
    pop = plistlib.loads(apple_mobileconfig("taro@yamada-shoji.test", SERVER, protocol="pop3"))
    assert pop["PayloadContent"][0]["EmailAccountType"] == "EmailTypePOP"


def test_payload_uuids_are_stable_per_user_and_distinct_between_users() -> None:
    first = plistlib.loads(apple_mobileconfig("taro@yamada-shoji.test", SERVER))
    again = plistlib.loads(apple_mobileconfig("Taro@Yamada-Shoji.test", SERVER, name="other"))
    other = plistlib.loads(apple_mobileconfig("hana@yamada-shoji.test", SERVER))
    assert first["PayloadUUID"] == again["PayloadUUID"]
    assert first["PayloadContent"][0]["PayloadUUID"] == again["PayloadContent"][0]["PayloadUUID"]
    assert first["PayloadIdentifier"] == again["PayloadIdentifier"]
    assert first["PayloadUUID"] != other["PayloadUUID"]
    assert first["PayloadUUID"] != first["PayloadContent"][0]["PayloadUUID"]
    profile_id, payload_id = profile_uuids("taro@yamada-shoji.test", SERVER.name)
    assert uuid.UUID(profile_id).version == 5
    assert profile_id == first["PayloadUUID"]
    assert payload_id == first["PayloadContent"][0]["PayloadUUID"]


def test_control_characters_do_not_break_the_files() -> None:
    name = "bad\x00name\x1b"
    ET.fromstring(outlook_autodiscover("taro@yamada-shoji.test", SERVER, name=name))
    plistlib.loads(apple_mobileconfig("taro@yamada-shoji.test", SERVER, name=name))


def test_pop3_endpoint_optional() -> None:
    bare = NewServer("s", imap=Endpoint("imap.test", 993), smtp=Endpoint("smtp.test", 465))
    root = ET.fromstring(thunderbird_autoconfig("x.test", bare))
    assert [s.get("type") for s in root.iter("incomingServer")] == ["imap"]
    assert root.find("emailProvider/outgoingServer/socketType").text == "SSL"  # type: ignore[union-attr]


def test_the_bulk_renderer_writes_the_same_bytes_as_the_canonical_functions() -> None:
    users = [
        ("taro@yamada-shoji.test", "山田 太郎"),
        ("o'neil+x@xn--wgv71a119e.jp", 'A & B <"quoted"> \r\n\x00'),
        ("hana@sato-design.test", ""),
    ]
    for protocol in ("imap", "pop3"):
        bulk = SetupRenderer(SERVER, protocol)  # type: ignore[arg-type]
        for address, name in users:
            assert bulk.mobileconfig(address, name) == apple_mobileconfig(
                address,
                SERVER,
                name=name,
                protocol=protocol,  # type: ignore[arg-type]
            )
            assert bulk.autodiscover(address, name) == outlook_autodiscover(
                address,
                SERVER,
                name=name,
                prefer=protocol,  # type: ignore[arg-type]
            )
