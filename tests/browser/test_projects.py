"""A migration project as customers and staff see it: isolation, timeline, gate, console."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mailmove.i18n import t
from tests.browser.test_pages import assert_no_error, nav, sign_in, switch_language
from tests.fixtures.app import AppWorld, screenshot

pytestmark = pytest.mark.browser


def sign_out(page: Page) -> None:
    page.get_by_role("button", name=t("signin.sign_out", "ja")).click()
    expect(page.get_by_role("heading", name=t("signin.title", "ja"))).to_be_visible()


def test_project_lifecycle_across_customers_and_staff(page: Page, app_world: AppWorld) -> None:
    a, b = app_world.customer_a, app_world.customer_b

    # Customer A starts a migration and sees what to do first, and that switching is not safe.
    sign_in(page, app_world.url, a)
    expect(page.get_by_role("heading", name=t("overview.start_title", "ja"))).to_be_visible()
    page.get_by_role("textbox", name=t("overview.old_host", "ja")).fill("pop.old-host.test")
    page.get_by_role("button", name=t("overview.start_submit", "ja")).click()
    expect(page.get_by_text(t("timeline.next_addresses", "ja"))).to_be_visible()
    expect(page.get_by_text(t("gate.closed", "ja"))).to_be_visible()
    expect(page.get_by_text(t("gate.not_verified", "ja"))).to_be_visible()
    expect(page.get_by_text(t("gate.ttl_not_lowered", "ja"))).to_be_visible()
    assert_no_error(page)
    screenshot(page, "ja-overview-project")
    sign_out(page)

    # Customer B sees neither A's project nor A's domain.
    sign_in(page, app_world.url, b)
    expect(page.get_by_role("heading", name=t("overview.start_title", "ja"))).to_be_visible()
    assert a.domain not in page.content()
    assert "pop.old-host.test" not in page.content()
    sign_out(page)

    # Staff find A's project in the console, open it in screen-share mode, may override.
    sign_in(page, app_world.url, app_world.staff)
    expect(page.get_by_text(t("overview.staff_pick", "ja"))).to_be_visible()
    nav(page).get_by_role("link", name=t("nav.staff", "ja"), exact=True).click()
    expect(page.get_by_role("cell", name=a.domain, exact=True)).to_be_visible()
    page.get_by_role("textbox", name=t("staff.filter", "ja")).fill("sato")
    page.get_by_role("textbox", name=t("staff.filter", "ja")).press("Enter")
    expect(page.get_by_role("cell", name=a.domain, exact=True)).to_have_count(0)
    page.get_by_role("textbox", name=t("staff.filter", "ja")).fill("yamada")
    page.get_by_role("textbox", name=t("staff.filter", "ja")).press("Enter")
    expect(page.get_by_role("cell", name=a.domain, exact=True)).to_be_visible()
    screenshot(page, "ja-staff-console")
    page.get_by_role("button", name=t("staff.open", "ja"), exact=True).click()
    expect(page.get_by_text(t("gate.closed", "ja"))).to_be_visible()
    expect(page.get_by_role("switch", name=t("frame.screen_share", "ja"))).to_be_checked()
    page.get_by_text(t("overview.override_title", "ja")).click()
    page.get_by_role("textbox", name=t("overview.override_reason", "ja")).fill(
        "お客様と電話で確認済み"
    )
    page.get_by_role("button", name=t("overview.override_submit", "ja")).click()
    expect(page.get_by_text("お客様と電話で確認済み").first).to_be_visible()
    switch_language(page, "English")
    expect(page.get_by_text("Support (staff@mailmove.test) allowed the switch")).to_be_visible()
    assert_no_error(page)
    screenshot(page, "en-overview-override")


def test_urls_and_query_parameters_select_nothing(page: Page, app_world: AppWorld) -> None:
    """Project choice lives only in the signed-in session, never in a URL someone can edit."""
    a, b = app_world.customer_a, app_world.customer_b
    sign_in(page, app_world.url, b)
    for path in ("overview?project=1", "overview?project_id=1", f"?domain={a.domain}"):
        page.goto(app_world.url + path)
        # A new page load is a new session: signed out, and nothing of A's shows.
        expect(page.get_by_role("heading", name=t("signin.title", "ja"))).to_be_visible()
        assert a.domain not in page.content()
        assert_no_error(page)
