"""DKIM: the new server's selector and public key, published at ``<selector>._domainkey``.

Where the key comes from: PostfixAdmin 3.3.13 (the version we run) has no DKIM table; it
exists only in upstream master (``$CONF['dkim']``, table ``dkim`` with ``selector``,
``domain_name`` and a PEM ``public_key``). So today the key is the one configured for the
server (``servers[].dkim``). :class:`DkimKeySource` is the seam: a future source reading
PostfixAdmin's table implements ``key_for(domain)`` and the generator does not change.

Keys are compared by the decoded ``p=`` bytes only: tag order, spaces and extra tags such as
``t=s`` (added by some DNS hosts) do not make a key different (reference §4, §11 #1).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Protocol

import dkim

from mailmove.config import Server

_PEM_LINE = re.compile(r"-----(BEGIN|END) [A-Z ]+-----")


@dataclass(frozen=True)
class DkimKey:
    """A selector and its public key as the ``p=`` base64 text (no PEM armour, no spaces)."""

    selector: str
    public_key: str
    key_type: str = "rsa"

    @property
    def txt(self) -> str:
        """The TXT value to publish (``v=DKIM1`` first, as RFC 6376 §3.6.1 requires)."""
        return f"v=DKIM1; k={self.key_type}; p={self.public_key}"


class DkimKeySource(Protocol):
    """Where a domain's DKIM key comes from (the configuration today, PostfixAdmin later)."""

    def key_for(self, domain: str) -> DkimKey | None: ...


class ConfiguredDkimKey:
    """The one key configured for the server (``servers[].dkim``), used for every domain."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def key_for(self, domain: str) -> DkimKey | None:
        settings = self.server.dkim
        if not settings.selector or not settings.public_key:
            return None
        return DkimKey(settings.selector.strip().lower(), normalise_key(settings.public_key))


def normalise_key(text: str) -> str:
    """PEM, bare base64 with line breaks, or a whole ``v=DKIM1; p=...`` value -> ``p=`` text."""
    if "p=" in text and ";" in text:
        return tags(text).get("p", "")
    return "".join(_PEM_LINE.sub("", text).split())


def tags(text: str) -> dict[str, str]:
    """A DKIM/DMARC tag list as a dict (names lower case; values with whitespace removed)."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            out[name.strip().lower()] = "".join(value.split())
    return out


def decoded_key(text: str) -> bytes | None:
    """The raw key bytes of a DKIM TXT value's ``p=`` (None: no p= tag or not base64)."""
    found = tags(text)
    if "p" not in found:
        return None
    try:
        return base64.b64decode(found["p"], validate=True)
    except (binascii.Error, ValueError):
        return None


def same_key(published: str, ours: DkimKey) -> bool:
    """True when the published record carries our key (by decoded ``p=`` only)."""
    mine = decoded_key(ours.txt)
    return mine is not None and decoded_key(published) == mine


def key_bits(key: DkimKey) -> int | None:
    """The key size dkimpy reads from the record (None: the key does not parse)."""
    try:
        _pk, bits, _ktag, _tlsrpt = dkim.evaluate_pk(b"key", key.txt.encode("ascii"))
    except (dkim.KeyFormatError, UnicodeEncodeError, ValueError):
        return None
    return int(bits)
