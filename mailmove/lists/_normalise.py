"""Turning cells into canonical values, and PostfixAdmin's address rules.

Every change is reported (the caller turns it into a warning on the row) because a
customer must be able to see that ``ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ`` became
``taro@example.jp`` before it is created on the server.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

import idna

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_DOTS = str.maketrans({"\u3002": ".", "\uff61": ".", "\uff0e": "."})  # 。｡． as dots
_SPACE_RE = re.compile(r"\s")

# PostfixAdmin's check_email(): its own regex ∩ PHP FILTER_VALIDATE_EMAIL. Local part: these
# characters (no backtick: PFA's regex lacks it), dots only between atoms; at most 64 octets,
# 254 for the whole address. Domain: PFA's ^([-0-9A-Z]+\.)+([-0-9A-Z]){1,13}$ with PHP's rule
# that a label neither starts nor ends with a hyphen and the top-level label starts with a letter.
_LOCAL_CHARS = r"a-z0-9!#$%&'*+/=?^_{|}~.-"
_LOCAL_OK = re.compile(f"[{_LOCAL_CHARS}]+").fullmatch
_LOCAL_CHARS_RE = re.compile(f"[{_LOCAL_CHARS}]")
_LABEL_RE = re.compile(r"[a-z0-9]+(?:-+[a-z0-9]+)*")
_TLD_RE = re.compile(r"[a-z][a-z0-9]*(?:-+[a-z0-9]+)*")
MAX_LOCAL = 64
MAX_ADDRESS = 254
MAX_TLD = 13

# Carriers whose pre-2009 addresses often break RFC 5322 (taro.@docomo.ne.jp, ta..ro@…).
MOBILE_DOMAINS = frozenset(
    {
        "docomo.ne.jp",
        "ezweb.ne.jp",
        "biz.ezweb.ne.jp",
        "au.com",
        "softbank.ne.jp",
        "i.softbank.jp",
        "disney.ne.jp",
        "pdx.ne.jp",
        "willcom.com",
        "ymobile.ne.jp",
        "y-mobile.ne.jp",
        "emnet.ne.jp",
    }
)
_MOBILE_SUFFIXES = (".vodafone.ne.jp", ".pdx.ne.jp", ".biz.ezweb.ne.jp")


class Normalised(NamedTuple):
    """An address after normalisation: ``value`` is what we store, ``changes`` what we did.

    ``problem`` is a catalog code (``lists.issue.<problem>``) when the address is not
    acceptable to PostfixAdmin, with ``detail`` as an extra message parameter. A tuple,
    not a dataclass: it is made for every address and target of a 50,000-row list.
    """

    value: str
    changes: tuple[str, ...] = ()
    problem: str = ""
    detail: str = ""
    catch_all: bool = False


def clean(cell: str) -> str:
    """Zero-width characters out, outer spaces (ASCII, full-width, NBSP) trimmed."""
    if cell.isascii():  # the common case, and no zero-width character is ASCII
        return cell.strip()
    return cell.translate(_ZERO_WIDTH).strip()


def normalise_address(
    raw: str,
    *,
    allow_catch_all: bool = False,
    domain_checks: dict[str, tuple[str, str]] | None = None,
) -> Normalised:
    """Canonical form of one address and whether PostfixAdmin would accept it.

    ``domain_checks`` memoises the domain check within one validation run (a list has
    few distinct domains); it is the caller's, so nothing outlives the run.
    """
    changes: list[str] = []
    text = raw if raw.isascii() else raw.translate(_ZERO_WIDTH)
    stripped = text.strip()
    if stripped != raw:
        changes.append("spaces")
    text = stripped
    if not text.isascii():
        folded = unicodedata.normalize("NFKC", text).translate(_DOTS).strip()
        if folded != text:
            changes.append("width")
            text = folded
    lowered = text.lower()
    if lowered != text:
        changes.append("lower")
        text = lowered
    if not text:
        return Normalised("", tuple(changes), "address_missing")
    catch_all = False
    if allow_catch_all and text.startswith(("*@", "@")):
        catch_all = True
        text = "@" + text.split("@", 1)[1]
    if text.count("@") != 1:
        code = "address_no_at" if "@" not in text else "address_many_at"
        return Normalised(text, tuple(changes), code)
    local, domain = text.split("@")
    if not domain:
        return Normalised(text, tuple(changes), "domain_missing")
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError:
            return Normalised(text, tuple(changes), "domain_invalid", domain)
        changes.append("idn")
    value = f"{local}@{domain}"
    problem, detail = ("", "") if catch_all else _check_local(local, domain)
    if not problem:
        if domain_checks is None:
            problem, detail = _check_domain(domain)
        else:
            checked = domain_checks.get(domain)
            if checked is None:
                checked = domain_checks[domain] = _check_domain(domain)
            problem, detail = checked
    if not problem and len(value) > MAX_ADDRESS:
        problem, detail = "address_too_long", str(MAX_ADDRESS)
    return Normalised(value, tuple(changes), problem, detail, catch_all)


def _check_local(local: str, domain: str) -> tuple[str, str]:
    if not local:
        return "local_missing", ""
    if _LOCAL_OK(local) and local[0] != "." and local[-1] != "." and ".." not in local:
        if len(local) > MAX_LOCAL:
            return "local_too_long", str(MAX_LOCAL)
        return "", ""
    if not local.isascii():
        return "local_not_ascii", ""
    bad = sorted({ch for ch in local if not _LOCAL_CHARS_RE.match(ch)})
    if bad:
        return "local_bad_chars", " ".join("␣" if _SPACE_RE.match(c) else c for c in bad)
    # Only dots are left to blame: leading, trailing or doubled.
    return ("mobile_dots" if is_mobile_domain(domain) else "local_dots"), ""


def _check_domain(domain: str) -> tuple[str, str]:
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        return "domain_invalid", domain
    if not all(len(label) <= 63 and _LABEL_RE.fullmatch(label) for label in labels[:-1]):
        return "domain_invalid", domain
    tld = labels[-1]
    if not _TLD_RE.fullmatch(tld):
        return "domain_invalid", domain
    if len(tld) > MAX_TLD:
        return "domain_tld_too_long", tld
    if "xn--" in domain:
        try:
            idna.decode(domain)
        except (idna.IDNAError, UnicodeError):
            return "domain_invalid", domain
    return "", ""


def is_mobile_domain(domain: str) -> bool:
    return domain in MOBILE_DOMAINS or domain.endswith(_MOBILE_SUFFIXES)


def display_domain(domain: str) -> str:
    """A punycode domain as the customer knows it (xn--… back to Unicode)."""
    if "xn--" not in domain:
        return domain
    try:
        return idna.decode(domain)
    except (idna.IDNAError, UnicodeError):
        return domain


def display_address(address: str) -> str:
    """``taro@xn--wgv71a.jp`` shown as ``taro@日本.jp``."""
    local, at, domain = address.rpartition("@")
    return f"{local}{at}{display_domain(domain)}" if at else address


def to_ascii_domain(domain: str) -> str | None:
    """A domain given on the command line or by sign-in, in punycode; None if invalid."""
    text = unicodedata.normalize("NFKC", clean(domain)).translate(_DOTS).lower().rstrip(".")
    if not text:
        return None
    if not text.isascii():
        try:
            text = idna.encode(text, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
    return text if not _check_domain(text)[0] else None


_TARGET_SPLIT = re.compile(r"[,;、，；\s]+")


def split_targets(cell: str) -> list[str]:
    """One cell, several targets: , ; 、 ， ； spaces and Alt+Enter line breaks all separate."""
    return [p for p in _TARGET_SPLIT.split(cell.translate(_ZERO_WIDTH)) if p]


_KEEP_YES = frozenset(
    {
        "yes",
        "y",
        "true",
        "1",
        "on",
        "keep",
        "○",
        "◯",
        "〇",
        "●",
        "はい",
        "する",
        "あり",
        "有",
        "有り",
        "残す",
    }
)
_KEEP_NO = frozenset(
    {
        "no",
        "n",
        "false",
        "0",
        "off",
        "×",
        "✕",
        "x",
        "-",
        "いいえ",
        "しない",
        "なし",
        "無",
        "無し",
        "残さない",
        "転送のみ",
        "forwardonly",
    }
)


def parse_keep_copy(cell: str) -> bool | None:
    """True keep a copy, False forward only, None empty; ValueError for anything else."""
    if not cell:
        return None
    text = unicodedata.normalize("NFKC", clean(cell)).lower().replace(" ", "")
    if not text:
        return None
    if text in _KEEP_YES:
        return True
    if text in _KEEP_NO or "残さない" in text or "のみ" in text or "しない" in text:
        return False
    if "残す" in text or "keep" in text:
        return True
    raise ValueError(text)


_QUOTA_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(mb|m|メガ|メガバイト|gb|g|ギガ|ギガバイト)?")
_UNLIMITED = frozenset({"無制限", "unlimited", "制限なし", "なし"})


def parse_quota(cell: str) -> tuple[int | None, str]:
    """Quota in MB: '1,000' and '500MB' → 500, '2GB' → 2048, '無制限' → 0 (unlimited).

    Returns (MB, change) where change is "", "gb" or "unlimited"; ValueError if not a size.
    """
    if cell.isascii() and cell.isdigit():  # the common case: a plain number of MB
        return int(cell), ""
    text = clean(cell) if cell.isascii() else unicodedata.normalize("NFKC", clean(cell))
    text = text.lower().replace(",", "").replace(" ", "")
    if not text:
        return None, ""
    if text in _UNLIMITED:
        return 0, "unlimited"
    match = _QUOTA_RE.fullmatch(text)
    if not match:
        raise ValueError(text)
    number, unit = float(match.group(1)), match.group(2) or "mb"
    if unit in ("gb", "g", "ギガ", "ギガバイト"):
        mb = number * 1024
        if not mb.is_integer():
            raise ValueError(text)
        return int(mb), "gb"
    if not number.is_integer():
        raise ValueError(text)
    return int(number), ""
