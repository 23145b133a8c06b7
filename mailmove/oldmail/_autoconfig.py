"""Setup files for the new account: Thunderbird autoconfig, Outlook Autodiscover, Apple profile.

Why: typing host names and ports is where users go wrong; these files let the mail
program fill them in (reference sheet §10-12). They never contain a password: a
profile or XML file travels by mail or USB stick and may be kept for years.

* Thunderbird's ``config-v1.1.xml`` is per domain (``%EMAILADDRESS%`` is filled in
  by Thunderbird); the customer may publish it at
  ``https://autoconfig.<domain>/mail/config-v1.1.xml``.
* The Autodiscover POX answer is per user, as an Autodiscover endpoint would return it.
* The ``.mobileconfig`` is per user, with PayloadUUIDs derived from the address
  (uuid5), so downloading it again and reinstalling replaces the account instead of
  adding a duplicate.
"""

from __future__ import annotations

import plistlib
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from mailmove.oldmail._model import NewProtocol, NewServer, clean_text, domain_of, security_for

__all__ = [
    "MOBILECONFIG_MIME",
    "SetupRenderer",
    "apple_mobileconfig",
    "outlook_autodiscover",
    "profile_uuids",
    "thunderbird_autoconfig",
]

MOBILECONFIG_MIME = "application/x-apple-aspen-config"
# A fixed namespace: the same address on the same server always gets the same UUIDs.
_NAMESPACE = uuid.UUID("5b0f3c4e-8c1a-5d2e-9f61-6d61696c6d6f")
_AUTODISCOVER_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
_OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _sub(parent: ET.Element, tag: str, text: str | int | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = str(text)
    return element


def _socket_type(port: int) -> str:
    kind = security_for(port)
    return {"ssl": "SSL", "starttls": "STARTTLS", "none": "plain"}[kind]


def thunderbird_autoconfig(
    domain: str, server: NewServer, *, prefer: NewProtocol = "imap", display_name: str = ""
) -> str:
    """``config-v1.1.xml`` for one domain; the preferred protocol is listed first."""
    root = ET.Element("clientConfig", version="1.1")
    provider = _sub(root, "emailProvider", id=domain)
    _sub(provider, "domain", domain)
    _sub(provider, "displayName", display_name or domain)
    _sub(provider, "displayShortName", domain)
    incoming = [("imap", server.imap)]
    if server.pop3 is not None:
        incoming.append(("pop3", server.pop3))
    if prefer == "pop3":
        incoming.reverse()
    for kind, endpoint in incoming:
        node = _sub(provider, "incomingServer", type=kind)
        _sub(node, "hostname", endpoint.host)
        _sub(node, "port", endpoint.port)
        _sub(node, "socketType", _socket_type(endpoint.port))
        _sub(node, "username", "%EMAILADDRESS%")
        _sub(node, "authentication", "password-cleartext")
        if kind == "pop3":
            pop3 = _sub(node, "pop3")
            _sub(pop3, "leaveMessagesOnServer", "true")
            _sub(pop3, "downloadOnBiff", "true")
    out = _sub(provider, "outgoingServer", type="smtp")
    _sub(out, "hostname", server.smtp.host)
    _sub(out, "port", server.smtp.port)
    _sub(out, "socketType", _socket_type(server.smtp.port))
    _sub(out, "username", "%EMAILADDRESS%")
    _sub(out, "authentication", "password-cleartext")
    return _xml(root)


def outlook_autodiscover(
    address: str, server: NewServer, *, name: str = "", prefer: NewProtocol = "imap"
) -> str:
    """The POX Autodiscover response for one user (the shape mailcow serves)."""
    address, name = clean_text(address), clean_text(name)
    root = ET.Element("Autodiscover", xmlns=_AUTODISCOVER_NS)
    response = _sub(root, "Response", xmlns=_OUTLOOK_NS)
    user = _sub(response, "User")
    _sub(user, "DisplayName", name or address)
    account = _sub(response, "Account")
    _sub(account, "AccountType", "email")
    _sub(account, "Action", "settings")
    incoming = server.incoming(prefer)
    protocols = [("IMAP" if incoming is server.imap else "POP3", incoming), ("SMTP", server.smtp)]
    for kind, endpoint in protocols:
        proto = _sub(account, "Protocol")
        _sub(proto, "Type", kind)
        _sub(proto, "Server", endpoint.host)
        _sub(proto, "Port", endpoint.port)
        _sub(proto, "DomainRequired", "off")
        _sub(proto, "LoginName", address)
        _sub(proto, "SPA", "off")
        # STARTTLS ports need <Encryption>TLS</Encryption>, not <SSL>on</SSL> (sheet §11).
        if security_for(endpoint.port) == "ssl":
            _sub(proto, "SSL", "on")
        else:
            _sub(proto, "Encryption", "TLS")
        _sub(proto, "AuthRequired", "on")
        if kind == "SMTP":
            _sub(proto, "UsePOPAuth", "on")
            _sub(proto, "SMTPLast", "off")
    return _xml(root)


def profile_uuids(address: str, server_name: str) -> tuple[str, str]:
    """(profile UUID, mail payload UUID): stable per address and server."""
    base = f"mailmove:{server_name}:{address.lower()}"
    return (
        str(uuid.uuid5(_NAMESPACE, base + ":profile")).upper(),
        str(uuid.uuid5(_NAMESPACE, base + ":mail")).upper(),
    )


def apple_mobileconfig(
    address: str, server: NewServer, *, name: str = "", protocol: NewProtocol = "imap"
) -> bytes:
    """An unsigned configuration profile with one mail account (IMAP by default)."""
    address, name = clean_text(address), clean_text(name)
    profile_id, payload_id = profile_uuids(address, server.name)
    incoming = server.incoming(protocol)
    is_imap = incoming is server.imap
    domain = domain_of(address)
    mail = {
        "PayloadType": "com.apple.mail.managed",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"mailmove.mail.{payload_id}",
        "PayloadUUID": payload_id,
        "PayloadDisplayName": address,
        "EmailAccountType": "EmailTypeIMAP" if is_imap else "EmailTypePOP",
        "EmailAccountDescription": address,
        "EmailAccountName": name or address,
        "EmailAddress": address,
        "IncomingMailServerHostName": incoming.host,
        "IncomingMailServerPortNumber": incoming.port,
        "IncomingMailServerUseSSL": security_for(incoming.port) != "none",
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerUsername": address,
        "OutgoingMailServerHostName": server.smtp.host,
        "OutgoingMailServerPortNumber": server.smtp.port,
        "OutgoingMailServerUseSSL": security_for(server.smtp.port) != "none",
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerUsername": address,
        "OutgoingPasswordSameAsIncomingPassword": True,
    }
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"mailmove.profile.{profile_id}",
        "PayloadUUID": profile_id,
        "PayloadDisplayName": address,
        "PayloadOrganization": domain,
        "PayloadRemovalDisallowed": False,
        "PayloadContent": [mail],
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)


class SetupRenderer:
    """Per-user setup files for many users: rendered once with markers, then filled in.

    Same bytes as :func:`apple_mobileconfig` and :func:`outlook_autodiscover` (a unit
    test compares them), at a fraction of the cost: for 5,000 users the plist and XML
    serialisers otherwise take longer than the pages themselves.
    """

    _ADDRESS = "mm-marker-address@mm-marker-domain.invalid"
    _NAME = "mm-marker-name"
    _DOMAIN = "mm-marker-domain.invalid"

    def __init__(self, server: NewServer, protocol: NewProtocol = "imap") -> None:
        self.server = server
        self._profile_ids = profile_uuids(self._ADDRESS, server.name)
        profile = apple_mobileconfig(self._ADDRESS, server, name=self._NAME, protocol=protocol)
        self._profile = profile.decode("utf-8")
        self._autodiscover = outlook_autodiscover(
            self._ADDRESS, server, name=self._NAME, prefer=protocol
        )

    def mobileconfig(self, address: str, name: str = "") -> bytes:
        address, name = clean_text(address), clean_text(name)
        profile_id, payload_id = profile_uuids(address, self.server.name)
        text = (
            self._profile.replace(self._profile_ids[0], profile_id)
            .replace(self._profile_ids[1], payload_id)
            .replace(self._ADDRESS, escape(address))
            .replace(self._DOMAIN, escape(domain_of(address)))
            .replace(self._NAME, escape(name or address))
        )
        return text.encode("utf-8")

    def autodiscover(self, address: str, name: str = "") -> str:
        address, name = clean_text(address), clean_text(name)
        return self._autodiscover.replace(self._ADDRESS, escape(address)).replace(
            self._NAME, escape(name or address)
        )
