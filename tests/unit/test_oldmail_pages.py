"""Instruction pages: each mail program in both languages, escaping, passwords, variants."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mailmove.config import demo_config
from mailmove.i18n import LANGS, catalog
from mailmove.oldmail import (
    CLIENT_IDS,
    CLIENTS,
    NewServer,
    PageRenderer,
    PageSettings,
    compute_timing,
    page_filename,
    parse_switch_at,
    render_page,
)
from mailmove.oldmail._clients import all_keys

DATA = Path(__file__).parents[1] / "data" / "oldmail"
TZ = "Asia/Tokyo"


@dataclass(frozen=True)
class User:
    address: str
    name: str = ""
    password: str = "Given-pass-11"
    generated_password: bool = False


TARO = User("taro@yamada-shoji.test")


def settings(**overrides: object) -> PageSettings:
    values: dict[str, object] = {
        "old_host": "sv1234.xserver.jp",
        "timing": compute_timing(parse_switch_at("2026-12-01T14:00", TZ), TZ),
        "new_server": NewServer.from_config(demo_config().server()),
    }
    values.update(overrides)
    return PageSettings(**values)  # type: ignore[arg-type]


class _Text(HTMLParser):
    """The visible text of a page (what a reader sees; style and title left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return "".join(parser.parts)


def expected(name: str) -> list[str]:
    lines = (DATA / f"{name}.expected.txt").read_text(encoding="utf-8").splitlines()
    return [ln for ln in lines if ln.strip() and not ln.startswith("#")]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("client_id", CLIENT_IDS)
def test_each_program_page_has_its_key_phrases(client_id: str, lang: str) -> None:
    page = render_page(TARO, settings(lang=lang, clients=(client_id,)))
    text = visible_text(page)
    missing = [
        p for p in expected("common." + lang) + expected(f"{client_id}.{lang}") if p not in text
    ]
    assert not missing
    # Only the chosen program's section is on the page.
    others = [c for c in CLIENTS if c.id != client_id]
    assert not [c.id for c in others if f'id="c-{c.id}"' in page]


def test_every_client_key_exists_in_both_languages() -> None:
    entries = catalog()
    assert not sorted(k for k in all_keys() if k not in entries)
    for key in all_keys():
        assert set(entries[key]) == set(LANGS)


def test_all_programs_on_one_page_with_contents() -> None:
    page = render_page(TARO, settings(lang="ja"))
    assert page.count('class="client"') == len(CLIENT_IDS)
    for c in CLIENTS:
        assert f'href="#c-{c.id}"' in page


def test_a_script_in_a_name_stays_text() -> None:
    name = '<script>alert("x")</script> 山田 & <b>太郎</b>'
    page = render_page(User("taro@yamada-shoji.test", name=name), settings(lang="ja"))
    assert "<script" not in page.lower()
    assert "<b>太郎</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert name in visible_text(page)


def test_pages_forbid_scripts_and_print_cleanly() -> None:
    page = render_page(TARO, settings(lang="en"))
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    assert "@media print" in page
    assert "@page" in page
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in page


def test_control_characters_cannot_smuggle_placeholders() -> None:
    sneaky = User("taro@yamada-shoji.test", name="\x00addr\x00 \x00secret\x00")
    page = render_page(sneaky, settings(lang="en"))
    assert "\x00" not in page
    assert "addr secret" in visible_text(page)


@pytest.mark.parametrize(
    ("user", "include", "shown"),
    [
        (
            User("a@yamada-shoji.test", password="Gen-Pass-4711", generated_password=True),
            True,
            True,
        ),
        (
            User("a@yamada-shoji.test", password="Gen-Pass-4711", generated_password=True),
            False,
            False,
        ),
        (
            User("a@yamada-shoji.test", password="Gen-Pass-4711", generated_password=False),
            True,
            False,
        ),
    ],
)
def test_initial_password_only_when_generated_and_chosen(
    user: User, include: bool, shown: bool
) -> None:
    renderer = PageRenderer(settings(lang="en", include_generated_passwords=include))
    page = renderer.render(user)
    assert ("Gen-Pass-4711" in page) is shown
    assert ("This page shows your password." in visible_text(page)) is shown
    # The preview never shows it.
    masked = renderer.render(user, mask_password=True)
    assert "Gen-Pass-4711" not in masked


def test_ip_address_warns_about_the_certificate() -> None:
    text = visible_text(render_page(TARO, settings(lang="en", old_host="203.0.113.10")))
    assert "An IP address does not match the server's certificate" in text
    assert "normally no certificate warning appears" not in text


def test_port_110_is_plain_with_a_warning() -> None:
    page = render_page(TARO, settings(lang="en", old_port=110))
    text = visible_text(page)
    assert "Port 110 is not encrypted, so your password travels unprotected." in text
    assert "untick “This server requires an encrypted connection (SSL/TLS)”" in text
    assert "and tick “This server requires" not in text
    assert "Connection security to None (not encrypted)" in text


def test_pop_for_the_new_account() -> None:
    text = visible_text(render_page(TARO, settings(lang="ja", new_protocol="pop3")))
    assert "新しいサーバー用のアカウントは POP（POP3） で設定してください" in text
    assert "必ず「POP3」を選びます" in text
    assert "mx.mailmove-demo.test（ポート 995、SSL/TLS）" in text
    assert text.index("受信サーバー（POP）") < text.index("受信サーバー（IMAP）")


def test_idn_domain_is_also_shown_in_unicode() -> None:
    text = visible_text(render_page(User("info@xn--wgv71a119e.jp"), settings(lang="ja")))
    assert "info@xn--wgv71a119e.jp (info@日本語.jp)" in text


def test_renderer_is_reused_without_leaking_between_users() -> None:
    renderer = PageRenderer(settings(lang="en", include_generated_passwords=True))
    first = renderer.render(
        User("a@yamada-shoji.test", name="Alice", password="Pw-aaaa-11", generated_password=True)
    )
    second = renderer.render(User("b@yamada-shoji.test", name="Bob"))
    assert "a@yamada-shoji.test" not in second
    assert "Alice" not in second
    assert "Pw-aaaa-11" not in second
    assert "b@yamada-shoji.test" in second
    assert "Pw-aaaa-11" in first


@pytest.mark.parametrize(
    ("address", "file_name"),
    [
        ("taro@yamada-shoji.test", "taro@yamada-shoji.test.html"),
        ("a/../b@x.test", "a_.._b@x.test.html"),
        ("..hidden@x.test", "hidden@x.test.html"),
        ("o'neil+news@x.test", "o_neil+news@x.test.html"),
    ],
)
def test_file_names_are_safe(address: str, file_name: str) -> None:
    assert page_filename(address) == file_name
    assert "/" not in page_filename(address)


def test_no_unescaped_markup_from_the_catalog() -> None:
    # Catalog texts are escaped too: a stray "<" in a translation cannot become a tag.
    page = render_page(TARO, settings(lang="ja"))
    tags = set(re.findall(r"</?([a-zA-Z0-9]+)", page))
    allowed = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3",
               "h4", "p", "section", "ol", "ul", "li", "table", "tr", "th", "td", "b", "nav",
               "a", "footer", "span"}  # fmt: skip
    assert tags <= allowed
