"""The one catalog of user-facing text, Japanese first, English second.

Strings live in ``mailmove/messages/*.yaml`` (one file per area, one catalog):
each key maps to ``{ja: ..., en: ...}``. Pages and the CLI ask for keys, never
write literal text, so a missing translation is caught by a test, not a customer.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, ...] = ("ja", "en")
DEFAULT_LANG: Lang = "ja"
MESSAGES_DIR = Path(__file__).parent / "messages"


class CatalogError(Exception):
    """The catalog itself is broken (a developer error, caught by the tests)."""


@cache
def catalog() -> dict[str, dict[str, str]]:
    """All keys of all catalog files; a key defined twice or half-translated is an error."""
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(MESSAGES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise CatalogError(f"{path.name}: expected a mapping of keys")
        for key, entry in data.items():
            if key in merged:
                raise CatalogError(f"{path.name}: key {key!r} is defined twice")
            if not isinstance(entry, dict) or set(entry) != set(LANGS):
                raise CatalogError(f"{path.name}: key {key!r} needs exactly ja and en")
            if not all(isinstance(v, str) and v for v in entry.values()):
                raise CatalogError(f"{path.name}: key {key!r} has an empty text")
            merged[str(key)] = {str(k): str(v) for k, v in entry.items()}
    return merged


def normalise_lang(value: object) -> Lang:
    """Accept 'en', 'EN', 'en-US'; anything else falls back to Japanese."""
    if isinstance(value, str) and value.lower().startswith("en"):
        return "en"
    return DEFAULT_LANG


def t(key: str, lang: Lang = DEFAULT_LANG, /, **params: object) -> str:
    """The text for ``key`` in ``lang`` with ``{name}`` placeholders filled in."""
    try:
        text = catalog()[key][lang]
    except KeyError:
        raise CatalogError(f"no catalog entry for {key!r}") from None
    return text.format(**params) if params else text


class Translator:
    """``t`` bound to one language, handy in pages: ``tr('nav.overview')``."""

    def __init__(self, lang: Lang) -> None:
        self.lang: Lang = lang

    def __call__(self, key: str, /, **params: object) -> str:
        return t(key, self.lang, **params)
