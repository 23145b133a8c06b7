"""The addresses step in real Chromium: a CP932 list with a bad row, fixed in the review table."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mailmove.i18n import t
from mailmove.ui.lists import MASK
from tests.browser.test_pages import assert_no_error, nav, sign_in
from tests.fixtures.app import AppWorld, screenshot

pytestmark = pytest.mark.browser

PASSWORDS = ("Yamada2024", "Sato3344", "Taka5566")
# What a customer's Excel on Japanese Windows saves: CP932, with ① ㈱ 髙 that shift_jis loses.
CP932_LIST = (
    "メールアドレス,パスワード,氏名\r\n"
    f"yamada@yamada-shoji.test,{PASSWORDS[0]},山田 太郎 ①\r\n"
    "takahashi@yamada-shoji.test,ab,髙橋 花子\r\n"
    f"sato@yamada-shoji.test,{PASSWORDS[1]},㈱佐藤商会 佐藤\r\n"
).encode("cp932")


def settled(page: Page) -> None:
    """Wait for the script run to finish, so the layout (and grid positions) are final."""
    expect(page.locator("[data-testid='stApp']")).to_have_attribute(
        "data-test-script-state", "notRunning"
    )


def grid_cell(page: Page, container: str, column: int, row: int) -> str:
    """Text of a cell as Glide renders it for screen readers (the grid itself is a canvas)."""
    cell = page.locator(f".st-key-{container} [data-testid='glide-cell-{column}-{row}']")
    return cell.text_content() or ""


def test_upload_fix_and_revalidate_cp932_list(page: Page, app_world: AppWorld) -> None:
    sign_in(page, app_world.url, app_world.customer_a)
    nav(page).get_by_role("link", name=t("nav.addresses", "ja"), exact=True).click()
    expect(page.get_by_role("heading", name=t("addresses.title", "ja"))).to_be_visible()
    page.locator("[data-testid='stFileUploader'] input[type=file]").first.set_input_files(
        files=[{"name": "社員一覧.csv", "mimeType": "text/csv", "buffer": CP932_LIST}]
    )

    # The bad row, as the spreadsheet numbers it, with the column and a Japanese message.
    expect(page.get_by_text(t("lists.errors.title", "ja"))).to_be_visible()
    message = t("lists.issue.password_too_short", "ja", min_length="5")
    expect(page.locator(".st-key-mm_lists_errors [data-testid='glide-cell-3-0']")).to_have_text(
        message
    )
    assert grid_cell(page, "mm_lists_errors", 1, 0) == "3"
    assert grid_cell(page, "mm_lists_errors", 2, 0) == "B"
    assert_no_error(page)
    screenshot(page, "ja-addresses-errors")

    # Fix the password in the review table: select the row's first cell, move to the
    # password column (row, status, address, password) and open the cell editor.
    review = page.locator(".st-key-mm_review_addresses [data-testid='data-grid-canvas']").first
    settled(page)
    review.scroll_into_view_if_needed()
    box = review.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 20, box["y"] + 35 + 17)  # the grid's overlay takes the clicks
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")  # opens Glide's cell editor, a textarea over the canvas
    editor = page.locator("textarea.gdg-input")
    expect(editor).to_have_value(MASK)  # the real password never reached the browser
    editor.fill(PASSWORDS[2])
    editor.press("Enter")
    expect(page.get_by_text(t("lists.review.pending", "ja", count=1))).to_be_visible()
    page.get_by_role("button", name=t("lists.review.revalidate", "ja")).click()
    expect(page.get_by_text(t("lists.all_ok", "ja"))).to_be_visible()

    # Every row in the review table, passwords masked: none of them is anywhere in the page.
    page.get_by_text(t("lists.review.only_errors", "ja")).click()
    expect(page.locator(".st-key-mm_review_addresses [data-testid='glide-cell-3-2']")).to_have_text(
        MASK
    )
    html = page.content()
    assert MASK in html
    for password in PASSWORDS:
        assert password not in html

    # Revealing one row is a deliberate act; screen-share mode masks it again.
    reveal = page.get_by_label(t("lists.review.reveal", "ja"))
    option = page.get_by_role("option", name="2: yamada@yamada-shoji.test")
    settled(page)  # a click during a rerun can land on a widget that is being replaced
    reveal.click()
    if not option.is_visible():
        settled(page)
        reveal.click()
    option.click()
    page.keyboard.press("Escape")
    cell = page.locator(".st-key-mm_review_addresses [data-testid='glide-cell-3-0']")
    expect(cell).to_have_text(PASSWORDS[0])
    page.get_by_text(t("frame.screen_share", "ja"), exact=True).click()
    expect(cell).to_have_text(MASK)
    assert PASSWORDS[0] not in page.content()

    page.get_by_role("button", name=t("lists.continue.button", "ja")).click()
    expect(
        page.get_by_text(t("lists.continue.done", "ja", mailboxes=3, forwards=0))
    ).to_be_visible()
    assert_no_error(page)
    screenshot(page, "ja-addresses-fixed")
