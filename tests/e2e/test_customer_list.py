"""A branch manager filters the customer list by grade and risk class, pages on, saves the filter, reloads,
applies it and exports it."""
import io
import os
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from core.extensions import db
from tests.e2e.test_opening_wizard import login
from tests.requests.test_customer_list import add_customer

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")


def shot(page: Page, name: str, viewport) -> None:
    if SHOTS:
        # caret="initial": hiding the caret injects a <style>, which the page's CSP refuses.
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{viewport[0]}.png"), full_page=True, caret="initial")


@pytest.fixture
def book(app):
    """62 gold C4 customers of the branch (a page and then some), and others that must not show."""
    with app.app_context():
        for n in range(1, 63):
            add_customer(f"C010170{n:04d}", risk="C4", grade="gold", manager="cmanager2" if n % 3 else None,
                         created=datetime(2025, 1, 1) + timedelta(hours=n), name="周志远",
                         valid_to=(datetime(2026, 12, 1) + timedelta(days=n)).date())
        add_customer("C0101709001", risk="C3", grade="gold", created=datetime(2026, 1, 1))
        add_customer("C0101709002", risk="C4", grade="silver", created=datetime(2026, 1, 1))
        add_customer("C0201709003", branch="0201", risk="C4", grade="gold", created=datetime(2026, 1, 1))
        db.session.commit()


def row_numbers(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#customer-list tbody tr td:first-child").all_inner_texts()]


def test_branch_manager_filters_pages_saves_reloads_applies_and_exports(page: Page, book, viewport):
    login(page, "manager")
    page.locator(".topnav summary", has_text="客户").click()  # the manager's 客户 menu
    page.locator(".topnav").get_by_role("link", name="客户", exact=True).click()
    expect(page.locator("h1")).to_have_text("客户查询")
    # The filters answer through htmx, which starts with the page's deferred scripts: a change made
    # before the page has loaded is not heard (a clerk would press 查询).
    page.wait_for_load_state("load")

    page.select_option("#grade", "gold")
    page.wait_for_url("**grade=gold**")
    page.select_option("#risk", "C4")
    page.wait_for_url("**risk=C4**")
    expect(page.locator("#customer-list tbody tr")).to_have_count(50)
    first = row_numbers(page)
    assert first[0] == "C0101700062" and "C0101709001" not in first and "C0101709002" not in first
    expect(page.locator("#customer-list tbody tr").first).to_contain_text("周**")
    expect(page.locator("#customer-list")).not_to_contain_text("周志远")
    shot(page, "customer-list-filtered", viewport)

    page.locator(".keyset-next").click()
    page.wait_for_url("**after=**")
    expect(page.locator("#customer-list tbody tr")).to_have_count(12)
    assert row_numbers(page) == [f"C010170{n:04d}" for n in range(12, 0, -1)]
    assert "grade=gold" in page.url and "risk=C4" in page.url
    page.reload()
    expect(page.locator("#customer-list tbody tr")).to_have_count(12)
    expect(page.locator("#grade")).to_have_value("gold")

    page.fill("#name", "金卡C4")
    page.locator("#save-filter button[type=submit]").click()
    expect(page.locator("#saved-filters")).to_contain_text("金卡C4")
    shot(page, "customer-list-saved", viewport)

    page.goto("/customers/")
    expect(page.locator("#grade")).to_have_value("")
    page.reload()
    page.locator("#saved-filters a.saved-filter", has_text="金卡C4").click()
    page.wait_for_url("**risk=C4**")
    expect(page.locator("#risk")).to_have_value("C4")
    expect(page.locator("#customer-list tbody tr")).to_have_count(50)
    assert row_numbers(page) == first

    with page.expect_download() as download:
        page.locator("#export-list").click()
    assert download.value.suggested_filename.endswith(".xlsx") and "客户名单" in download.value.suggested_filename
    with open(download.value.path(), "rb") as handle:
        rows = list(load_workbook(io.BytesIO(handle.read()), read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 63 and rows[1][0] == "C0101700062" and rows[1][1] == "周**"
    assert not any(r[0].startswith("C0201") for r in rows[1:])


def test_a_bad_date_shows_its_message_next_to_the_field_and_keeps_the_filters(page: Page, book, viewport):
    login(page, "manager")
    page.goto("/customers/?grade=gold")
    page.fill("#opened_from", "2025-06-01")
    page.fill("#opened_to", "2025-05-01")
    page.locator("#opened_to").dispatch_event("change")
    expect(page.locator("#field-opened_to .field-error")).to_have_text("结束日期不能早于开始日期")
    expect(page.locator("#grade")).to_have_value("gold")
    expect(page.locator("#opened_from")).to_have_value("2025-06-01")
    shot(page, "customer-list-bad-dates", viewport)


def test_typing_or_pasting_a_customer_number_narrows_the_rows(page: Page, book, viewport):
    login(page, "manager")
    page.goto("/customers/")
    page.locator("#q").fill("c0101709")  # fill fires input, as a paste does
    page.wait_for_url("**q=C0101709**")
    expect(page.locator("#customer-list tbody tr")).to_have_count(2)
