"""DMARC: publish a monitoring policy if there is none; never weaken one that exists.

Reference §5. A new record is ``p=none`` with reports (``rua``) to an address the customer
chooses. An existing ``quarantine``/``reject`` stays, but then the new server's SPF and DKIM
must be visible before the switch, or the customer's own mail fails DMARC. A report address
in another organisational domain only receives reports if that domain publishes
``<domain>._report._dmarc.<dest>`` (RFC 7489 §7.1), which is checked here.
"""

from __future__ import annotations

from functools import cache

from publicsuffixlist import PublicSuffixList

from mailmove.records._dkim import tags


def is_dmarc(text: str) -> bool:
    """A DMARC record starts with the tag ``v=DMARC1`` (RFC 7489 §6.3)."""
    first = text.split(";", 1)[0]
    name, sep, value = first.partition("=")
    return bool(sep) and name.strip().lower() == "v" and value.strip().upper() == "DMARC1"


def policy(text: str) -> str | None:
    """The ``p=`` policy, lower case (None when missing)."""
    value = tags(text).get("p")
    return value.lower() if value else None


def report_addresses(text: str) -> list[str]:
    """The mailbox addresses in ``rua`` and ``ruf`` (``mailto:`` URIs, size suffix dropped)."""
    found = tags(text)
    out: list[str] = []
    for tag in ("rua", "ruf"):
        for uri in found.get(tag, "").split(","):
            uri = uri.strip()
            if uri.lower().startswith("mailto:"):
                address = uri[len("mailto:") :].split("!", 1)[0]
                if "@" in address and address not in out:
                    out.append(address)
    return out


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def organisational_domain(name: str) -> str:
    """The registrable domain (``mail.example.co.jp`` -> ``example.co.jp``), via the PSL.

    A name that is itself a public suffix (or unknown to the list) is its own organisation:
    the conservative side, since it makes a report address look external, never internal.
    """
    name = name.strip().rstrip(".").lower()
    return _psl().privatesuffix(name) or name


def is_external(domain: str, address: str) -> bool:
    """True when the report ``address`` is in another organisational domain than ``domain``."""
    dest = address.rsplit("@", 1)[-1]
    return organisational_domain(dest) != organisational_domain(domain)


def authorisation_name(domain: str, address: str) -> str:
    """Where the destination must authorise reports: ``<domain>._report._dmarc.<dest>``."""
    dest = address.rsplit("@", 1)[-1].strip().rstrip(".").lower()
    return f"{domain.rstrip('.').lower()}._report._dmarc.{dest}"


def new_record(rua: str) -> str:
    """The first DMARC record: monitor only, reports to ``rua``."""
    return f"v=DMARC1; p=none; rua=mailto:{rua}"
