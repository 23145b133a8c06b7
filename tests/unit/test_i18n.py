"""One catalog, both languages, and no literal UI text in the pages."""

import ast
import re
from pathlib import Path

import pytest

from mailmove.i18n import Translator, catalog, normalise_lang, t

ROOT = Path(__file__).parents[2]
PAGE_FILES = [*sorted((ROOT / "pages").glob("*.py")), ROOT / "app.py"]
SOURCE_FILES = PAGE_FILES + sorted((ROOT / "mailmove").rglob("*.py"))


def test_every_key_has_japanese_and_english() -> None:
    entries = catalog()
    assert len(entries) > 20
    for key, texts in entries.items():
        assert set(texts) == {"ja", "en"}, key
        # the Japanese text is not an untranslated copy of the English one
        if key.startswith(("nav.", "signin.", "overview.", "steps.")):
            assert texts["ja"] != texts["en"], key


def test_placeholders_match_between_languages() -> None:
    for key, texts in catalog().items():
        names = {lang: set(re.findall(r"{(\w+)}", text)) for lang, text in texts.items()}
        assert names["ja"] == names["en"], key


def test_every_key_used_in_the_code_exists() -> None:
    used: set[str] = set()
    for path in SOURCE_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
                name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                if name in {"t", "tr"} and node.args and isinstance(node.args[0], ast.Constant):
                    used.add(str(node.args[0].value))
    assert used, "no catalog lookups found: the scan is broken"
    missing = sorted(k for k in used if k not in catalog())
    assert not missing


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_pages_show_no_literal_text(path: Path) -> None:
    """A string literal handed to st.<anything> as text would escape translation."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    offenders = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Attribute):  # st.sidebar.button(...)
            if owner.attr in {"session_state", "query_params"}:
                continue  # state keys, not text
            owner = owner.value
        if not (isinstance(owner, ast.Name) and owner.id in {"st", "col"}):
            continue
        if node.func.attr in {
            "Page",
            "set_page_config",
            "form",
            "navigation",
            "page_link",
            "switch_page",
        }:
            continue  # file paths, form keys; titles are checked below
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.strip():
                offenders.append(f"line {node.lineno}: st.{node.func.attr}({arg.value!r})")
        for kw in node.keywords:
            if kw.arg in {"title", "label", "help", "placeholder"} and isinstance(
                kw.value, ast.Constant
            ):
                offenders.append(f"line {node.lineno}: {kw.arg}={kw.value.value!r}")
    assert not offenders


def test_lookup_and_language_fallback() -> None:
    assert t("nav.overview", "ja") == "概要"
    assert Translator("en")("nav.overview") == "Overview"
    assert t("signin.signed_in_as", "en", user="a@b.test") == "Signed in as a@b.test"
    assert normalise_lang("en-US") == "en"
    assert normalise_lang("fr") == "ja"
    assert normalise_lang(None) == "ja"
