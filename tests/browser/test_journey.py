"""The whole customer journey in one piece, in Japanese, then a staff walk-through.

Customer B (sato-design.test) so it does not collide with the tests on customer A: start
the migration, upload a CP932 list with bad rows, provision the valid ones on the real
PostfixAdmin, read the DNS records, change the zone as the customer would (on app_world's
Knot), watch the propagation page turn green by itself, see the TTL step on the Overview,
download the instruction pages as a ZIP, sign out. Then staff open the same project in
screen-share mode, with the same list loaded, and no password reaches the browser.

The packaged zone publishes the MX with a 3600 s TTL, so after the TTL is lowered the gate
honestly says "switch from <an hour later>": the test checks that message (in the customer's
time zone) and that nothing else holds the gate closed, rather than faking a short old TTL.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from mailmove.auth import Identity
from mailmove.i18n import Lang, t
from mailmove.projects import Projects
from mailmove.store import Store
from tests.browser.test_addresses import settled
from tests.browser.test_pages import assert_no_error, nav, sign_in, switch_language
from tests.browser.test_propagation import overall
from tests.fixtures.app import AppWorld, screenshot

pytestmark = pytest.mark.browser

DOMAIN = "sato-design.test"
PASSWORDS = ("Sato-Jun-2026", "Kobayashi-77", "Mori-Kana-88")
# Saved by Excel on Japanese Windows: CP932 (髙 and ㈱ are CP932-only), one bad password,
# one address of somebody else's domain.
JOURNEY_LIST = (
    "メールアドレス,パスワード,氏名\r\n"
    f"sato@{DOMAIN},{PASSWORDS[0]},佐藤 純\r\n"
    f"kobayashi@{DOMAIN},{PASSWORDS[1]},髙林 一郎\r\n"
    f"mori@{DOMAIN},{PASSWORDS[2]},㈱佐藤デザイン 森\r\n"
    f"ito@{DOMAIN},ab,伊藤 花\r\n"
    "someone@yamada-shoji.test,Other-domain-9,他社 太郎\r\n"
).encode("cp932")
GOOD_ROWS = 3


def switched_zone(original: str) -> str:
    """What the DNS records page asks of sato-design.test: TTL 300, SPF, the mail host moved."""
    text = original.replace("2025010101", "2025010102")
    text = text.replace("@       3600 IN MX   10 mail", "@       300 IN MX   10 mail")
    text = text.replace("mail    3600 IN A    192.0.2.25", "mail    300 IN A    198.51.100.25")
    text += '@       300 IN TXT  "v=spf1 ip4:198.51.100.25 ~all"\n'
    text += f'_dmarc  300 IN TXT  "v=DMARC1; p=none; rua=mailto:postmaster@{DOMAIN}"\n'
    assert text.count("198.51.100.25") == 2
    assert " 300 IN MX" in text
    return text


def go(page: Page, nav_key: str, title_key: str, lang: Lang = "ja") -> None:
    nav(page).get_by_role("link", name=t(nav_key, lang), exact=True).click()
    expect(page.get_by_role("heading", name=t(title_key, lang))).to_be_visible()


def upload_list(page: Page) -> None:
    page.locator("[data-testid='stFileUploader'] input[type=file]").first.set_input_files(
        files=[{"name": "社員一覧.csv", "mimeType": "text/csv", "buffer": JOURNEY_LIST}]
    )


def assert_no_password(page: Page) -> None:
    html = page.content()
    for password in (*PASSWORDS, "Other-domain-9"):
        assert password not in html


def test_customer_journey_in_japanese(page: Page, app_world: AppWorld) -> None:
    b = app_world.customer_b
    store = Store(app_world.store_url)
    projects = Projects(store, Identity(b.username, "test-1", False, (DOMAIN,)))
    original = app_world.dns_auth.zones[DOMAIN]
    try:
        # 1. Sign in, start the migration on the Overview.
        sign_in(page, app_world.url, b)
        expect(page.get_by_role("heading", name=t("overview.start_title", "ja"))).to_be_visible()
        page.get_by_role("textbox", name=t("overview.old_host", "ja")).fill("pop.old-host.test")
        page.get_by_role("button", name=t("overview.start_submit", "ja")).click()
        expect(page.get_by_text(t("timeline.next_addresses", "ja"))).to_be_visible()
        expect(page.get_by_text(t("gate.closed", "ja"))).to_be_visible()
        assert_no_error(page)
        screenshot(page, "journey-ja-01-overview-start")

        # 2. The address list: per-row errors, then on with the valid rows.
        go(page, "nav.addresses", "addresses.title")
        upload_list(page)
        expect(page.get_by_text(t("lists.errors.title", "ja"))).to_be_visible()
        short = t("lists.issue.password_too_short", "ja", min_length="5")
        errors = page.locator(".st-key-mm_lists_errors")
        expect(errors.get_by_text(short)).to_have_count(1)
        settled(page)
        assert_no_password(page)
        assert_no_error(page)
        page.set_viewport_size({"width": 1280, "height": 2000})
        screenshot(page, "journey-ja-02-addresses-errors")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_role("button", name=t("lists.continue.button", "ja")).click()
        expect(
            page.get_by_text(t("lists.continue.done", "ja", mailboxes=GOOD_ROWS, forwards=0))
        ).to_be_visible()

        # 3. Plan, apply with the progress bar, every address verified present.
        expect(page.get_by_role("heading", name=t("provision.plan.title", "ja"))).to_be_visible()
        page.get_by_role("button", name=t("provision.section.apply", "ja")).click()
        expect(page.get_by_role("progressbar").first).to_be_attached()
        expect(page.get_by_text(t("provision.verify.all_present", "ja"))).to_be_visible(
            timeout=60_000
        )
        assert_no_password(page)
        assert_no_error(page)
        screenshot(page, "journey-ja-03-addresses-applied")

        # 4. The Overview's addresses step is green; it also reads the published TTL (3600).
        go(page, "nav.overview", "overview.title")
        expect(page.get_by_text(t("timeline.light.green", "ja")).first).to_be_visible()
        expect(page.get_by_text(t("gate.not_verified", "ja"))).to_have_count(0)
        expect(page.get_by_text(t("gate.ttl_not_lowered", "ja"))).to_be_visible()

        # 5. The DNS records to set: the new SPF for a domain that had none.
        go(page, "nav.dns_records", "dns.title")
        spf = page.locator("code").filter(
            has_text=re.compile(r"^v=spf1 ip4:198\.51\.100\.25 ~all$")
        )
        expect(spf.first).to_be_visible()
        expect(page.get_by_role("button", name=t("records.ui.download", "ja"))).to_be_visible()
        assert_no_error(page)
        page.set_viewport_size({"width": 1280, "height": 4200})
        screenshot(page, "journey-ja-04-dns-records")
        page.set_viewport_size({"width": 1280, "height": 900})

        # 6. Propagation: red; the customer edits the zone; green without a reload.
        go(page, "nav.propagation", "propagation.title")
        overall(page, "red")
        screenshot(page, "journey-ja-05-propagation-red")
        app_world.dns_auth.set_zone(DOMAIN, switched_zone(original))
        app_world.dns_cache.flush(DOMAIN)
        overall(page, "green")
        expect(page.get_by_text(t("propagation.all_green", "ja")).first).to_be_visible()
        assert_no_error(page)
        page.set_viewport_size({"width": 1280, "height": 3000})
        screenshot(page, "journey-ja-06-propagation-green")
        page.set_viewport_size({"width": 1280, "height": 900})

        # 7. The Overview: TTL lowered; the gate waits out the old TTL (1 h) and says until when.
        go(page, "nav.overview", "overview.title")
        project = projects.for_domain(DOMAIN)
        assert project is not None
        assert project.ttl_lowered_at is not None
        assert project.old_ttl_s == 3600
        switch_from = project.ttl_lowered_at + timedelta(seconds=3600)
        local = switch_from.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M")
        expect(page.get_by_text(re.compile(re.escape(local))).first).to_be_visible()
        expect(page.get_by_text(t("gate.ttl_not_lowered", "ja"))).to_have_count(0)
        expect(page.get_by_text(t("gate.not_verified", "ja"))).to_have_count(0)
        assert switch_from > datetime.now(switch_from.tzinfo)
        assert_no_error(page)
        screenshot(page, "journey-ja-07-overview-ttl-lowered")

        # 8. Old mail: the instruction pages for everyone, as a ZIP; one page opened.
        go(page, "nav.old_mail", "old_mail.title")
        expect(page.get_by_text(t("oldmail.ui.fill_in", "ja")).first).to_be_visible()
        old_host = page.get_by_role("textbox", name=t("oldmail.ui.old_host", "ja"))
        old_host.fill("pop.old-host.test")
        old_host.press("Enter")
        # The switch time: a date field of segments (year, month, day, hour, minute).
        switch_at = datetime.now() + timedelta(days=2)
        parts = {
            "year": f"{switch_at:%Y}",
            "month": f"{switch_at:%m}",
            "day": f"{switch_at:%d}",
            "hour": "10",
            "minute": "00",
        }
        for part, digits in parts.items():
            segment = page.get_by_role("spinbutton", name=re.compile(f"^{part}, 切り替え日時"))
            segment.click()
            page.keyboard.type(digits)
        page.keyboard.press("Tab")  # leaving the field sets the value
        page.keyboard.press("Escape")  # and closes the calendar, if it opened
        zip_button = page.get_by_role(
            "button", name=t("oldmail.ui.download_zip", "ja", count=GOOD_ROWS)
        )
        expect(zip_button).to_be_visible()
        assert_no_error(page)
        page.set_viewport_size({"width": 1280, "height": 2000})
        screenshot(page, "journey-ja-08-old-mail")
        page.set_viewport_size({"width": 1280, "height": 900})
        with page.expect_download() as download_info:
            zip_button.click()
        data = download_info.value.path().read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            names = bundle.namelist()
            page_name = next(n for n in names if n.endswith(f"sato@{DOMAIN}.html"))
            html = bundle.read(page_name).decode("utf-8")
        assert f"sato@{DOMAIN}" in html
        assert "pop.old-host.test" in html

        # 9. Sign out: back to the sign-in page.
        page.get_by_role("button", name=t("signin.sign_out", "ja")).click()
        expect(page.get_by_role("heading", name=t("signin.title", "ja"))).to_be_visible()
    finally:
        app_world.dns_auth.set_zone(DOMAIN, original.replace("2025010101", "2025010103"))
        app_world.dns_cache.flush(DOMAIN)
        store.engine.dispose()


@pytest.fixture(scope="module", autouse=True)
def _close_customer_b_projects(app_world: AppWorld):
    """Later tests expect customer B to have no open project: close what this file opened."""
    yield
    store = Store(app_world.store_url)
    b = app_world.customer_b
    projects = Projects(store, Identity(b.username, "test-1", False, (DOMAIN,)))
    for project in projects.list():
        if project.done_at is None:
            projects.mark_done(project.id)
    store.engine.dispose()


def test_customer_pages_in_english_after_the_journey(page: Page, app_world: AppWorld) -> None:
    """A shorter English pass over the same project (the journey itself is not repeatable:
    the addresses exist and the TTL is lowered by now): every step reads in English."""
    sign_in(page, app_world.url, app_world.customer_b, lang="en")
    expect(page.get_by_text(t("timeline.light.green", "en")).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"TTL lowered .*switch from")).first).to_be_visible()
    assert_no_error(page)
    screenshot(page, "journey-en-01-overview")

    go(page, "nav.addresses", "addresses.title", "en")
    upload_list(page)
    short = t("lists.issue.password_too_short", "en", min_length="5")
    expect(page.locator(".st-key-mm_lists_errors").get_by_text(short)).to_have_count(1)
    page.get_by_role("button", name=t("lists.continue.button", "en")).click()
    # The addresses exist already: applying again changes nothing and verifies them all.
    page.get_by_role("button", name=t("provision.section.apply", "en")).click()
    expect(page.get_by_text(t("provision.verify.all_present", "en"))).to_be_visible(timeout=60_000)
    assert_no_password(page)
    assert_no_error(page)
    screenshot(page, "journey-en-02-addresses")

    go(page, "nav.dns_records", "dns.title", "en")
    expect(page.get_by_role("heading", name=t("records.step.1.title", "en"))).to_be_visible()
    screenshot(page, "journey-en-03-dns-records")
    go(page, "nav.propagation", "propagation.title", "en")
    # The journey put the packaged zone back (later tests read it): red, with what to fix.
    overall(page, "red", "en")
    expect(page.get_by_text(t("propagation.what_to_fix", "en")).first).to_be_visible()
    screenshot(page, "journey-en-04-propagation")
    go(page, "nav.old_mail", "old_mail.title", "en")
    expect(page.get_by_text(t("oldmail.ui.intro", "en", count=GOOD_ROWS))).to_be_visible()
    assert_no_error(page)
    screenshot(page, "journey-en-05-old-mail")
    switch_language(page, t("app.lang.ja", "en"))
    expect(page.get_by_role("heading", name=t("old_mail.title", "ja"))).to_be_visible()
    page.get_by_role("button", name=t("signin.sign_out", "ja")).click()
    expect(page.get_by_role("heading", name=t("signin.title", "ja"))).to_be_visible()


def test_staff_opens_the_project_in_screen_share_mode_without_passwords(
    page: Page, app_world: AppWorld
) -> None:
    sign_in(page, app_world.url, app_world.staff)
    go(page, "nav.staff", "staff.title")
    search = page.get_by_role("textbox", name=t("staff.filter", "ja"))
    search.fill("sato")
    search.press("Enter")
    # Earlier tests may have left closed projects of B: open the one the journey started.
    store = Store(app_world.store_url)
    b = app_world.customer_b
    project = Projects(store, Identity(b.username, "test-1", False, (DOMAIN,))).for_domain(DOMAIN)
    store.engine.dispose()
    assert project is not None
    assert project.done_at is None
    expect(page.get_by_role("cell", name=f"#{project.id}", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name=app_world.customer_a.domain, exact=True)).to_have_count(0)
    screenshot(page, "journey-ja-09-staff-console")
    page.get_by_label(t("staff.open_label", "ja")).click()
    page.get_by_role("option", name=f"#{project.id} {DOMAIN}").click()
    page.get_by_role("button", name=t("staff.open", "ja"), exact=True).click()
    expect(page.get_by_role("heading", name=t("overview.title", "ja"))).to_be_visible()
    expect(page.get_by_text(DOMAIN).first).to_be_visible()
    expect(page.get_by_role("switch", name=t("frame.screen_share", "ja"))).to_be_checked()

    # The same list, loaded in the staff's own session, as when walking a customer through it.
    go(page, "nav.addresses", "addresses.title")
    upload_list(page)
    expect(page.get_by_text(t("lists.errors.title", "ja"))).to_be_visible()
    settled(page)
    assert_no_password(page)
    page.get_by_role("button", name=t("lists.continue.button", "ja")).click()
    expect(
        page.get_by_text(t("lists.continue.done", "ja", mailboxes=GOOD_ROWS, forwards=0))
    ).to_be_visible()
    settled(page)
    assert_no_password(page)
    assert_no_error(page)
    screenshot(page, "journey-ja-10-staff-addresses")

    go(page, "nav.old_mail", "old_mail.title")
    expect(page.get_by_text(t("oldmail.ui.intro", "ja", count=GOOD_ROWS))).to_be_visible()
    settled(page)
    assert_no_password(page)
    assert_no_error(page)
    screenshot(page, "journey-ja-11-staff-old-mail")
