"""The CRM flow in a browser: a customer manager finds the customer by the pinyin initials in the header search box,
opens the record with the keyboard and records a complaint; the branch manager sees it counted on the dashboard."""
import os

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_opening_wizard import login

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")
CUSTOMER = "C0101000001"  # 张建国, assigned to 陈客户经理 in the demo data


def _shot(page: Page, name: str, viewport) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{viewport[0]}.png"), full_page=True, caret="initial")


def _cell(page: Page, figure: str, row: str, column: int):
    return page.locator(f"#figure-{figure}-table tr", has=page.locator("th", has_text=row)).locator("td").nth(column)


def test_a_complaint_recorded_from_a_search_is_counted_on_the_dashboard(page: Page, new_context, viewport, app, monkeypatch):
    # The first contact is due one working day after receipt: from a Friday that is Monday, three days
    # ahead. The reminders look this far ahead, so the handler sees the complaint whatever the weekday.
    monkeypatch.setitem(app.config, "REMINDER_DAYS_AHEAD", 4)
    boss = new_context().new_page()
    login(boss, "manager")
    boss.goto("/statistics/")
    complaints_before = int(_cell(boss, "service_records_by_kind", "投诉", 3).inner_text())

    login(page, "cmanager")
    box = page.locator("#customer-search")
    box.click()
    box.press_sequentially("zjg", delay=60)
    listbox = page.locator("#customer-search-listbox")
    expect(listbox).to_contain_text(CUSTOMER)
    expect(listbox).to_contain_text("张**")
    box.press("ArrowDown")
    expect(listbox.get_by_role("option").nth(0)).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    page.wait_for_url(f"**/customers/{CUSTOMER}")
    expect(page.locator("#current-manager")).to_contain_text("陈客户经理")

    page.locator("#new-complaint").click()
    expect(page.locator("input[name=kind][value=complaint]")).to_be_checked()
    page.fill("#subject", "交易系统登录异常")
    page.fill("#content", "客户来电反映开盘后交易系统多次无法登录。")
    page.select_option("#channel", "phone")
    page.select_option("#category", "it_system")
    page.check("input[name=urgency][value=urgent]")
    page.get_by_role("button", name="登记").click()
    expect(page.locator("#complaint-channel")).to_contain_text("电话")
    reference = page.locator("h1").inner_text().split()[1]
    _shot(page, "crm-complaint-recorded", viewport)

    boss.goto("/statistics/")
    expect(_cell(boss, "service_records_by_kind", "投诉", 3)).to_have_text(str(complaints_before + 1))
    expect(_cell(boss, "complaints_by_channel", "交易系统", 1)).to_have_text("1")  # column 1: 电话
    expect(_cell(boss, "complaints_by_deadline", "北京朝阳门营业部", 3)).not_to_have_text("0")  # 未办结·未到期
    expect(boss.locator("#chart-complaints_by_channel")).to_be_visible()
    boss.locator("#figure-complaints_by_channel").scroll_into_view_if_needed()
    _shot(boss, "crm-dashboard", viewport)
    # The complaint is the branch manager's reminder too (a handler to assign), linking the record. The card
    # was counted when the manager logged in, before the complaint: it says when, and 刷新 counts it again.
    boss.goto("/")
    expect(boss.locator("#reminders-counted")).to_contain_text("统计于")
    expect(boss.locator("#reminder-complaints_due")).to_have_count(0)
    boss.locator("#reminders-refresh").click()
    expect(boss.locator("#reminder-complaints_due")).to_contain_text(reference)
    _shot(boss, "crm-home-reminders", viewport)
