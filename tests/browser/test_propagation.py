"""The propagation page in real Chromium: lights change by themselves, red -> amber -> green.

The app asks app_world's Knot (the customer's authoritative server) and Unbound (a public
resolver's cache); the page refreshes every 2 s there (``dns.refresh_s``). The test changes
the zone as the DNS records page asks and watches the page follow, without any reload.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from mailmove.auth import Identity
from mailmove.i18n import Lang, t
from mailmove.projects import Projects
from mailmove.store import Store
from tests.browser.test_pages import assert_no_error, nav, sign_in, switch_language
from tests.fixtures.app import AppWorld, screenshot

pytestmark = pytest.mark.browser

WAIT_MS = 25_000


def overall(page: Page, light: str, lang: Lang = "ja") -> None:
    word = t(f"propagation.light.{light}", lang)
    expect(page.get_by_text(t("propagation.overall", lang, light=word)).first).to_be_visible(
        timeout=WAIT_MS
    )


def switched_zone(original: str) -> str:
    """What the records page asks for: TTL 300, SPF merged, DMARC, the MX host moved."""
    text = original.replace("2025010101", "2025010102")
    text = text.replace("@       3600 IN MX   10 mail", "@       300 IN MX   10 mail")
    text = text.replace("mail    3600 IN A    192.0.2.25", "mail    300 IN A    198.51.100.25")
    text = text.replace('"v=spf1 a mx ~all"', '"v=spf1 ip4:198.51.100.25 a mx ~all"')
    text += '_dmarc  300 IN TXT  "v=DMARC1; p=none; rua=mailto:postmaster@yamada-shoji.test"\n'
    assert text.count("198.51.100.25") == 2
    return text


def test_lights_go_red_amber_green_without_a_reload(page: Page, app_world: AppWorld) -> None:
    a = app_world.customer_a
    store = Store(app_world.store_url)
    store.migrate()
    projects = Projects(store, Identity(a.username, "test-1", False, (a.domain,)))
    project = projects.for_domain(a.domain)
    created = project is None
    if project is None:
        project = projects.create([a.domain], old_host="pop.old-host.test")
    original = app_world.dns_auth.zones[a.domain]
    try:
        sign_in(page, app_world.url, a)
        nav(page).get_by_role("link", name=t("nav.propagation", "ja"), exact=True).click()
        expect(page.get_by_role("heading", name=t("propagation.title", "ja"))).to_be_visible()
        overall(page, "red")
        # What is wrong and what to set, in words (not only colours).
        expect(page.get_by_text(t("propagation.what_to_fix", "ja")).first).to_be_visible()
        expect(page.get_by_text("v=spf1 ip4:198.51.100.25 a mx ~all").first).to_be_visible()
        assert_no_error(page)
        page.set_viewport_size({"width": 1280, "height": 3600})
        screenshot(page, "ja-propagation-red")

        # The customer sets the records; the cache still holds the old MX host address.
        app_world.dns_auth.set_zone(a.domain, switched_zone(original))
        overall(page, "amber")
        expect(page.get_by_text(re.compile(r"残り \d+ 秒")).first).to_be_visible()
        expect(page.get_by_text(t("propagation.detail.cache_old", "ja")).first).to_be_visible()
        screenshot(page, "ja-propagation-amber")

        # The cache refetches (flushed instead of waiting an hour): green on two checks.
        app_world.dns_cache.flush(a.domain)
        overall(page, "green")
        expect(page.get_by_text(t("propagation.all_green", "ja")).first).to_be_visible()
        # .first: while the fragment reruns, the old and the new render can briefly coexist.
        expect(page.get_by_text(t("propagation.events_title", "ja")).first).to_be_visible()
        assert_no_error(page)
        screenshot(page, "ja-propagation-green")

        switch_language(page, "English")
        overall(page, "green", "en")
        expect(page.get_by_text(t("propagation.chart_title", "en")).first).to_be_visible()
        assert_no_error(page)
        screenshot(page, "en-propagation-green")
        history = [light for _at, _domain, light in projects.dns_history(project.id)]
        assert {"red", "amber", "green"} <= set(history)  # saved with the project
    finally:
        restored = original.replace("2025010101", "2025010103")
        app_world.dns_auth.set_zone(a.domain, restored)
        app_world.dns_cache.flush(a.domain)
        if created:
            projects.mark_done(project.id)
        store.engine.dispose()
