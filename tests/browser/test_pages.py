"""Every page, in Japanese and in English, as a customer and as staff, in real Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from mailmove.i18n import Lang, t
from tests.fixtures.app import Account, AppWorld, screenshot

pytestmark = pytest.mark.browser

CUSTOMER_PAGES = [
    ("nav.overview", "overview.title"),
    ("nav.addresses", "addresses.title"),
    ("nav.dns_records", "dns.title"),
    ("nav.propagation", "propagation.title"),
    ("nav.old_mail", "old_mail.title"),
]


def assert_no_error(page: Page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    html = page.content()
    assert "Traceback" not in html
    assert "Error:" not in page.inner_text("body")


def sign_in(page: Page, url: str, who: Account, lang: Lang = "ja") -> None:
    page.goto(url if lang == "ja" else f"{url}?lang=en")
    expect(page.get_by_role("heading", name=t("signin.title", lang))).to_be_visible()
    page.get_by_label(t("signin.username", lang)).fill(who.username)
    page.get_by_role("textbox", name=t("signin.password", lang)).fill(who.password)
    page.get_by_role("button", name=t("signin.submit", lang), exact=True).click()
    expect(page.get_by_role("heading", name=t("overview.title", lang))).to_be_visible()


def nav(page: Page) -> Locator:
    """The sidebar's page menu (pages may also link to each other in their body)."""
    return page.get_by_test_id("stSidebarNav")


def switch_language(page: Page, label: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(label, exact=True).click()


def visit(page: Page, nav_key: str, title_key: str, lang: Lang) -> None:
    nav(page).get_by_role("link", name=t(nav_key, lang), exact=True).click()
    expect(page.get_by_role("heading", name=t(title_key, lang))).to_be_visible()
    assert_no_error(page)


def test_signed_out_visitor_sees_only_the_sign_in_page(page: Page, app_world: AppWorld) -> None:
    page.goto(app_world.url)
    expect(page.get_by_role("heading", name="サインイン")).to_be_visible()
    expect(page.get_by_text(t("signin.intro", "ja"))).to_be_visible()
    assert page.get_by_role("link", name=t("nav.addresses", "ja")).count() == 0
    assert_no_error(page)
    screenshot(page, "ja-sign-in")


def test_wrong_password_is_a_plain_message(page: Page, app_world: AppWorld) -> None:
    page.goto(app_world.url)
    page.get_by_label(t("signin.username", "ja")).fill(app_world.customer_a.username)
    page.get_by_role("textbox", name=t("signin.password", "ja")).fill("Wrong-guess-99")
    page.get_by_role("button", name=t("signin.submit", "ja"), exact=True).click()
    expect(page.get_by_text(t("signin.failed", "ja"))).to_be_visible()
    assert "Wrong-guess-99" not in page.content()
    assert_no_error(page)


def test_customer_visits_every_page_in_japanese_then_english(
    page: Page, app_world: AppWorld
) -> None:
    a, b = app_world.customer_a, app_world.customer_b
    sign_in(page, app_world.url, a)
    # Their own domain is listed, the other customer's is not.
    expect(page.get_by_text(a.domain).first).to_be_visible()
    assert b.domain not in page.content()
    # The step header shows the four steps.
    for key in ("steps.addresses", "steps.dns", "steps.propagation", "steps.old_mail"):
        expect(page.get_by_text(t(key, "ja")).first).to_be_visible()
    assert page.get_by_role("link", name=t("nav.staff", "ja")).count() == 0
    screenshot(page, "ja-overview")

    for nav_key, title_key in CUSTOMER_PAGES:
        visit(page, nav_key, title_key, "ja")
        screenshot(page, f"ja-{nav_key.removeprefix('nav.')}")

    switch_language(page, "English")
    expect(page.get_by_role("link", name="Overview", exact=True)).to_be_visible()
    for nav_key, title_key in CUSTOMER_PAGES:
        visit(page, nav_key, title_key, "en")
        screenshot(page, f"en-{nav_key.removeprefix('nav.')}")

    page.get_by_role("button", name=t("signin.sign_out", "en")).click()
    expect(page.get_by_role("heading", name=t("signin.title", "en"))).to_be_visible()


def test_staff_sees_the_console_with_activity(page: Page, app_world: AppWorld) -> None:
    sign_in(page, app_world.url, app_world.staff, lang="en")
    # Staff start from the console, not from a project of their own.
    expect(page.get_by_text(t("overview.staff_pick", "en"))).to_be_visible()
    visit(page, "nav.staff", "staff.title", "en")
    expect(page.get_by_text(t("staff.recent_activity", "en"))).to_be_visible()
    screenshot(page, "en-staff")
    switch_language(page, t("app.lang.ja", "en"))
    expect(page.get_by_role("heading", name=t("staff.title", "ja"))).to_be_visible()
    assert_no_error(page)
    screenshot(page, "ja-staff")
