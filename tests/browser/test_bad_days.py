"""Bad days in real Chromium: PostfixAdmin down, every DNS server silent, sessions lost.

Customer B (sato-design.test) works on a project this file creates and closes again, so the
later tests (test_journey.py starts B's migration from scratch) find B without an open one.
Every daemon stopped here is restarted on the same port in a ``finally``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from mailmove.auth import Identity
from mailmove.i18n import t
from mailmove.projects import Project, Projects
from mailmove.store import Store
from tests.browser.test_addresses import settled
from tests.browser.test_pages import assert_no_error, nav, sign_in
from tests.browser.test_propagation import overall
from tests.fixtures.app import AppWorld, screenshot

pytestmark = pytest.mark.browser

DOMAIN = "sato-design.test"
LIST = (
    "メールアドレス,パスワード,氏名\r\n"
    f"nakamura@{DOMAIN},Nakamura-2026,中村 誠\r\n"
    f"ogawa@{DOMAIN},Ogawa-Rin-2026,小川 凛\r\n"
).encode("cp932")


@pytest.fixture(scope="module")
def project_b(app_world: AppWorld) -> Iterator[Project]:
    b = app_world.customer_b
    store = Store(app_world.store_url)
    store.migrate()
    projects = Projects(store, Identity(b.username, "test-1", False, (DOMAIN,)))
    project = projects.for_domain(DOMAIN)
    if project is None:
        project = projects.create([DOMAIN], old_host="pop.old-host.test")
    yield project
    projects.mark_done(project.id)
    store.engine.dispose()


def to_provisioning(page: Page) -> None:
    nav(page).get_by_role("link", name=t("nav.addresses", "ja"), exact=True).click()
    expect(page.get_by_role("heading", name=t("addresses.title", "ja"))).to_be_visible()
    page.locator("[data-testid='stFileUploader'] input[type=file]").first.set_input_files(
        files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": LIST}]
    )
    expect(page.get_by_text(t("lists.all_ok", "ja"))).to_be_visible()
    page.get_by_role("button", name=t("lists.continue.button", "ja")).click()


def test_postfixadmin_down_while_the_customer_works(
    page: Page, app_world: AppWorld, project_b: Project
) -> None:
    sign_in(page, app_world.url, app_world.customer_b)
    port = app_world.pfa.port
    app_world.pfa.stop()
    try:
        to_provisioning(page)
        # What happened and what to do, in words; no trace, nothing applied.
        expect(page.get_by_text(t("provision.section.unreachable", "ja"))).to_be_visible()
        expect(page.get_by_role("button", name=t("provision.section.apply", "ja"))).to_have_count(0)
        assert_no_error(page)
        page.set_viewport_size({"width": 1280, "height": 2400})
        screenshot(page, "bad-days-ja-pfa-down")
        page.set_viewport_size({"width": 1280, "height": 900})
    finally:
        app_world.pfa.start()
    assert app_world.pfa.port == port
    # Back up: the customer tries again, as the message says; the plan is made this time.
    page.get_by_role("button", name=t("lists.continue.button", "ja")).click()
    expect(page.get_by_role("heading", name=t("provision.plan.title", "ja"))).to_be_visible()
    assert_no_error(page)


def test_every_dns_server_silent_shows_grey_lights(
    page: Page, app_world: AppWorld, project_b: Project
) -> None:
    sign_in(page, app_world.url, app_world.customer_b)
    port = app_world.dns_auth.port
    app_world.dns_auth.stop()
    try:
        app_world.dns_cache.flush(DOMAIN)
        nav(page).get_by_role("link", name=t("nav.propagation", "ja"), exact=True).click()
        expect(page.get_by_role("heading", name=t("propagation.title", "ja"))).to_be_visible()
        overall(page, "grey")
        settled(page)
        assert_no_error(page)
        page.set_viewport_size({"width": 1280, "height": 2400})
        screenshot(page, "bad-days-ja-dns-silent")
    finally:
        app_world.dns_auth.start()
        app_world.dns_cache.flush()
    assert app_world.dns_auth.port == port


def test_sessions_expire_and_the_project_is_still_there(
    browser: Browser, page: Page, app_world: AppWorld, project_b: Project
) -> None:
    sign_in(page, app_world.url, app_world.customer_b)
    # PostfixAdmin forgets every session (its idle timeout): the app signs in again by itself.
    app_world.pfa.expire_sessions()
    to_provisioning(page)
    expect(page.get_by_role("heading", name=t("provision.plan.title", "ja"))).to_be_visible()
    assert_no_error(page)

    # Our own session is gone too (a new browser, a closed tab): sign in again, same project.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    try:
        again = context.new_page()
        again.set_default_timeout(20_000)
        sign_in(again, app_world.url, app_world.customer_b)
        expect(again.get_by_text(t("timeline.next_addresses", "ja"))).to_be_visible()
        expect(again.get_by_role("heading", name=t("overview.start_title", "ja"))).to_have_count(0)
        caption = again.get_by_text(DOMAIN).first
        expect(caption).to_be_visible()
        assert_no_error(again)
        screenshot(again, "bad-days-ja-signed-in-again")
    finally:
        context.close()
