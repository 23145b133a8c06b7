"""The DNS records page in real Chromium, computed from a real authoritative server.

The app under test asks a real Knot serving the packaged demo zones (yamada-shoji.test,
sato-design.test); see ``app_world`` in tests/fixtures/app.py.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mailmove.i18n import t
from tests.browser.test_pages import assert_no_error, nav, sign_in, switch_language
from tests.fixtures.app import AppWorld, screenshot

pytestmark = pytest.mark.browser


def open_records(page: Page, app_world: AppWorld) -> None:
    sign_in(page, app_world.url, app_world.customer_a)
    nav(page).get_by_role("link", name=t("nav.dns_records", "ja"), exact=True).click()
    expect(page.get_by_role("heading", name=t("dns.title", "ja"))).to_be_visible()


def test_customer_sees_the_records_to_copy_in_both_languages(
    page: Page, app_world: AppWorld
) -> None:
    open_records(page, app_world)
    domain = app_world.customer_a.domain  # yamada-shoji.test: "v=spf1 a mx ~all", MX mail
    for step in (1, 2, 3):
        expect(
            page.get_by_role("heading", name=t(f"records.step.{step}.title", "ja"))
        ).to_be_visible()
    # The merged SPF (never replaced), the MX host's new address, the MX warning, the zone file.
    expect(page.get_by_text("v=spf1 ip4:198.51.100.25 a mx ~all").first).to_be_visible()
    expect(page.get_by_text(t("records.step.3.intro", "ja"))).to_be_visible()
    expect(page.get_by_text(t("records.ui.domain_note", "ja", domain=domain))).to_be_visible()
    expect(page.get_by_role("button", name=t("records.ui.download", "ja"))).to_be_visible()
    assert app_world.customer_b.domain not in page.content()
    assert_no_error(page)
    page.set_viewport_size({"width": 1280, "height": 4200})  # Streamlit scrolls inside
    screenshot(page, "ja-dns-records")

    switch_language(page, "English")
    expect(page.get_by_role("heading", name=t("records.step.2.title", "en"))).to_be_visible()
    expect(page.get_by_text(t("records.notice.spf_new_softfail", "en"))).to_have_count(0)
    page.get_by_text(t("records.ui.details", "en")).nth(1).click()
    expect(page.get_by_text(t("records.mistakes.spf", "en")).first).to_be_visible()
    assert_no_error(page)
    screenshot(page, "en-dns-records")
