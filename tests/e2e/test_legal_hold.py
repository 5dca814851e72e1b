"""An archivist places a legal hold on a customer's file and lifts it, on the file page, at desk and tablet size."""
import os

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_opening_wizard import login

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")
CUSTOMER = "C0101000001"  # the demo customer, of the Beijing branch


def test_an_archivist_places_and_lifts_a_hold_with_the_mistakes_of_a_busy_day(page: Page, viewport):
    login(page, "archivist")
    page.goto(f"/archive/customers/{CUSTOMER}")
    page.select_option("#purpose", index=1)
    page.get_by_role("button", name="登记并查阅").click()
    panel = page.locator("#retention-panel")
    expect(panel).to_contain_text("保管期限自销户之日起计算")

    # Submitted without a reason: told next to the field, nothing placed.
    panel.get_by_role("button", name="设置法律保全").click()
    expect(page.locator("#field-hold-reason .field-error")).to_have_text("请填写理由（如法院案号、监管来函文号）")

    page.fill("#hold-reason", "（2026）京01民初123号 诉讼保全")
    panel.get_by_role("button", name="设置法律保全").dblclick()  # a double click places one hold
    expect(page.locator("#standing-hold")).to_contain_text("法律保全中：（2026）京01民初123号 诉讼保全")
    expect(panel.locator(".banner-success")).to_have_text("已设置法律保全，保全期间该客户档案不会被清除。")
    if SHOTS:
        panel.screenshot(path=os.path.join(SHOTS, f"legal-hold-{viewport[0]}.png"))

    page.reload()  # the hold is on record, not only on the page
    expect(page.locator("#standing-hold")).to_contain_text("京01民初123号")

    page.fill("#lift-reason", "案件审结")
    page.locator("#retention-panel").get_by_role("button", name="解除法律保全").click()
    expect(page.locator("#retention-panel .banner-success")).to_have_text("已解除法律保全。")
    expect(page.locator("#hold-history")).to_contain_text("案件审结")
    expect(page.locator("#place-hold-form")).to_be_visible()
