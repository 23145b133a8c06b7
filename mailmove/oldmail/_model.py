"""The few shapes the old-mail step shares: a user, the new server, host names.

Why a Protocol for users: the address-list model lives in ``mailmove.lists`` and is
written separately; anything with these four attributes works here, so pages,
bundles and jobs do not depend on how the list was read.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal, Protocol

from mailmove.config import Endpoint, Server
from mailmove.errors import MailmoveError

NewProtocol = Literal["imap", "pop3"]
Security = Literal["ssl", "starttls", "none"]

# RFC 1123 labels; the TLD must not be all digits (that would be a mistyped IP).
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Unicode category Cc (C0, DEL, C1) except TAB.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


class MailboxLike(Protocol):
    """One user of the address list (``mailmove.lists.Mailbox`` fits)."""

    @property
    def address(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def password(self) -> str: ...

    @property
    def generated_password(self) -> bool: ...


@dataclass(frozen=True)
class NewServer:
    """Where users' programs connect after the switch (from the configuration)."""

    name: str
    imap: Endpoint
    smtp: Endpoint
    pop3: Endpoint | None = None

    @classmethod
    def from_config(cls, server: Server) -> NewServer:
        missing = [k for k in ("imap", "smtp") if not getattr(server, k).host]
        if missing:
            keys = ", ".join(f"servers[{server.name}].{k}.host" for k in missing)
            raise MailmoveError(f"the configuration lacks {keys}: users need it in their pages")
        pop3 = server.pop3 if server.pop3.host else None
        return cls(server.name, server.imap, server.smtp, pop3)

    def incoming(self, protocol: NewProtocol) -> Endpoint:
        if protocol == "pop3" and self.pop3 is not None:
            return self.pop3
        return self.imap


def security_for(port: int) -> Security:
    """Implicit TLS on the well-known TLS ports, STARTTLS otherwise; 110 is plain."""
    if port in (993, 995, 465):
        return "ssl"
    if port == 110:
        return "none"
    return "starttls"


def normalise_old_host(text: str) -> str:
    """A host name (IDN → punycode, lower case) or an IPv4/IPv6 address; else an error."""
    host = text.strip().rstrip(".").strip("[]")
    if not host:
        raise MailmoveError("the old server's host name (or IP address) is required")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise MailmoveError(f"{text!r} is not a valid host name") from None
    labels = ascii_host.split(".")
    if (
        len(ascii_host) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise MailmoveError(f"{text!r} is not a valid host name")
    return ascii_host


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


def display_address(address: str) -> str:
    """The address as users know it: an IDN domain also in its Unicode form."""
    local, _, domain = address.rpartition("@")
    if "xn--" not in domain:
        return address
    try:
        pretty = domain.encode("ascii").decode("idna")
    except UnicodeError:
        return address
    return f"{address} ({local}@{pretty})"


def clean_text(text: object) -> str:
    """Drop control characters (NUL included): they break XML and have no place on paper."""
    return _CONTROL.sub("", str(text))
