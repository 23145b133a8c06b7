"""From a validated list to verified addresses on the real PostfixAdmin, in the browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mailmove.auth import Identity
from mailmove.i18n import t
from mailmove.postfixadmin import PostfixAdminClient
from mailmove.projects import Projects
from mailmove.store import Store
from tests.browser.test_pages import assert_no_error, nav, sign_in
from tests.fixtures.app import AppWorld, screenshot

pytestmark = pytest.mark.browser

LIST = (
    "メールアドレス,パスワード,氏名,転送先\r\n"
    "suzuki@yamada-shoji.test,Suzuki-2026,鈴木 一郎,\r\n"
    "tanaka@yamada-shoji.test,Tanaka-2026,田中 花子,tanaka.mobile@example.net\r\n"
    "info@yamada-shoji.test,,,suzuki@yamada-shoji.test\r\n"
).encode("cp932")


def test_plan_apply_and_verify_from_the_addresses_page(page: Page, app_world: AppWorld) -> None:
    a = app_world.customer_a
    store = Store(app_world.store_url)
    store.migrate()
    who = Identity(a.username, "test-1", False, (a.domain,))
    if Projects(store, who).for_domain(a.domain) is None:
        Projects(store, who).create([a.domain], old_host="pop.old-host.test")

    sign_in(page, app_world.url, a)
    nav(page).get_by_role("link", name=t("nav.addresses", "ja"), exact=True).click()
    page.locator("[data-testid='stFileUploader'] input[type=file]").first.set_input_files(
        files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": LIST}]
    )
    page.get_by_role("button", name=t("lists.continue.button", "ja")).click()
    expect(page.get_by_role("heading", name=t("provision.section.title", "ja"))).to_be_visible()
    expect(page.get_by_role("heading", name=t("provision.plan.title", "ja"))).to_be_visible()
    page.get_by_role("button", name=t("provision.section.apply", "ja")).click()
    expect(page.get_by_text(t("provision.verify.all_present", "ja"))).to_be_visible(timeout=60_000)
    assert "Suzuki-2026" not in page.content()
    assert_no_error(page)
    screenshot(page, "ja-addresses-applied")

    # PostfixAdmin really has them, seen through the customer's own account.
    client = PostfixAdminClient(app_world.pfa.url)
    client.login(a.username, a.password)
    mailboxes = {m.address for m in client.list_mailboxes()}
    assert {"suzuki@yamada-shoji.test", "tanaka@yamada-shoji.test"} <= mailboxes

    # The verified list is saved with the project: the Overview's first step turns green.
    nav(page).get_by_role("link", name=t("nav.overview", "ja"), exact=True).click()
    expect(page.get_by_text(t("timeline.light.green", "ja")).first).to_be_visible()
    project = Projects(store, who).for_domain(a.domain)
    assert project is not None
    verified = {v.address: v.present for v in Projects(store, who).verified(project.id)}
    assert verified["suzuki@yamada-shoji.test"] is True
    assert verified["info@yamada-shoji.test"] is True
