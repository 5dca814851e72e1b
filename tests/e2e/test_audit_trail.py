"""An HQ administrator finds a refused access in the audit trail; a branch manager sees their branch's entries."""
import os

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_opening_wizard import login
from tests.requests.helpers import login_as

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")
CUSTOMER = "C0101000001"  # the demo customer, of the Beijing branch


def test_hq_finds_who_was_refused_a_customer_and_a_bad_filter_keeps_the_others(app, page: Page, viewport):
    assert login_as(app, "clerk_sh").get(f"/customers/{CUSTOMER}").status_code in (403, 404)

    login(page, "admin")
    system = page.locator(".topnav details", has=page.locator("summary", has_text="系统"))
    system.locator("summary").click()
    system.get_by_role("link", name="审计日志").click()
    expect(page.locator("h1")).to_have_text("审计日志")

    page.select_option("#category", label="拒绝访问")
    page.get_by_role("button", name="筛选").click()
    refused = page.locator("#trail-list tbody tr", has_text="clerk_sh")
    expect(refused.first).to_contain_text(CUSTOMER)
    expect(refused.first).to_contain_text("拒绝访问")
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # the table scrolls, not the page
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"audit-trail-{viewport[0]}.png"), full_page=True)

    page.fill("#object_id", "C0101 OR 1")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#field-object_id .field-error")).to_have_text("请输入客户号、申请编号或业务编号（字母和数字）")
    expect(page.locator("#category")).to_have_value("access")
    expect(page.locator("#object_id")).to_have_value("C0101 OR 1")


def test_a_branch_manager_reads_their_branch_only(app, page: Page, viewport):
    assert login_as(app, "clerk_sh").get(f"/customers/{CUSTOMER}").status_code in (403, 404)
    login(page, "manager")
    page.goto("/audit/")
    expect(page.locator(".hint").first).to_contain_text("仅显示本营业部人员的操作")
    expect(page.locator("#branch")).to_have_count(0)
    expect(page.locator("#trail-list tbody tr").first).to_be_visible()
    expect(page.locator("#trail-list tbody tr", has_text="clerk_sh")).to_have_count(0)
