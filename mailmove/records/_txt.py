"""How a record is written down: registrar host labels, TXT strings, zone-file syntax.

Registrar screens and zone files want different spellings of the same record, and most
customer mistakes happen in that translation (reference sheet §8): the domain typed twice,
quotes pasted into the value, a long value split at spaces. So every spelling is produced
here, from one value, and checked by the tests against dnspython's own parser.
"""

from __future__ import annotations

import dns.name

TXT_CHUNK = 255  # octets per character-string (RFC 1035 §3.3)


def host_label(name: str, domain: str) -> str:
    """The host box of a registrar screen: ``@`` for the domain itself, else the relative part.

    A name outside the domain keeps its full absolute spelling (it cannot be entered there).
    """
    full = _fqdn(name)
    zone = _fqdn(domain)
    if full == zone:
        return "@"
    if full.endswith("." + zone):
        return full[: -len(zone) - 1]
    return full + "."


def full_name(name: str) -> str:
    """The full name as shown to people: lower case, no trailing dot."""
    return _fqdn(name)


def _fqdn(name: str) -> str:
    text = name.strip().rstrip(".")
    return dns.name.from_text(text + ".").to_text().rstrip(".").lower() if text else ""


def split_txt(value: str, *, limit: int = TXT_CHUNK, at_spaces: bool = False) -> tuple[str, ...]:
    """Cut a TXT value into character-strings of at most ``limit`` octets.

    Joining the pieces without anything in between gives ``value`` back, as every receiver
    does (RFC 7208 §3.3, RFC 6376 §3.6.2.2). ``at_spaces`` cuts just before a space when it
    can, so each SPF piece keeps whole terms (the space starts the next piece).
    """
    pieces: list[str] = []
    rest = value
    while len(rest.encode("utf-8")) > limit:
        cut = _fit(rest, limit)
        if at_spaces:
            space = rest.rfind(" ", 1, cut + 1)
            if space > 0:
                cut = space
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return tuple(pieces)


def _fit(text: str, limit: int) -> int:
    """The longest prefix length of ``text`` whose UTF-8 form fits in ``limit`` octets."""
    size = 0
    for i, ch in enumerate(text):
        size += len(ch.encode("utf-8"))
        if size > limit:
            return max(i, 1)
    return len(text)


def quote_txt(strings: tuple[str, ...] | list[str]) -> str:
    """Zone-file form: each piece in double quotes, ``"`` and ``\\`` escaped (RFC 1035 §5.1)."""
    return " ".join(_quote(s) for s in strings)


def _quote(text: str) -> str:
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def mx_value(preference: int, target: str) -> str:
    """``10 mail.example.jp``: what registrar MX screens want (no trailing dot)."""
    return f"{preference} {full_name(target) or '.'}"


def zone_value(rdtype: str, value: str, strings: tuple[str, ...] = ()) -> str:
    """The rdata as a zone file writes it: TXT quoted in pieces, host names absolute."""
    if rdtype == "TXT":
        return quote_txt(strings or split_txt(value))
    if rdtype == "MX":
        preference, _, target = value.partition(" ")
        return f"{preference} {target.rstrip('.')}."
    if rdtype == "CNAME":
        return value.rstrip(".") + "."
    return value


def has_literal_quotes(text: str) -> bool:
    """A value whose quotes ended up inside the record (pasted with quotes into a screen)."""
    stripped = text.strip()
    return stripped.startswith('"') or stripped.endswith('"')
