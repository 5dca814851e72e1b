"""A clerk sees which products fit, is refused a product beyond the class, and records the customer's insistence."""
import os

import pytest
from playwright.sync_api import Page, expect

from core.storage import LocalStore
from tests.e2e.test_opening_wizard import login
from tests.factories import scan_png
from tests.grading.test_suitability import customer_with_class

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")


@pytest.fixture
def customer_no(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))
    return customer_with_class(app, "C2")


def test_clerk_is_refused_beyond_the_class_and_records_insistence(page: Page, customer_no, viewport):
    login(page, "clerk")
    page.goto(f"/customers/{customer_no}#products-panel")
    expect(page.locator("#suitability-standing")).to_contain_text("不高于 R2")
    expect(page.locator("#match-MMF01")).to_contain_text("匹配")
    row = page.locator("#match-EQ04")
    expect(row).to_contain_text("不匹配")
    row.get_by_role("button", name="推荐").click()
    expect(page.locator("#flash")).to_contain_text("不得推荐 股票精选四号")
    expect(page.locator("#recommendations")).to_contain_text("不匹配，拒绝推荐")

    row = page.locator("#match-EQ04")
    row.get_by_text("客户坚持购买").click()
    row.get_by_role("button", name="上传确认书并记录").click()
    expect(row.locator(".field-error")).to_have_text("请上传客户签署的确认书扫描件")
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"suitability-insist-error-{viewport[0]}.png"), full_page=True)
    row = page.locator("#match-EQ04")
    row.locator("input[type=file]").set_input_files(files=[{"name": "ack.png", "mimeType": "image/png",
                                                            "buffer": scan_png()}])
    row.get_by_role("button", name="上传确认书并记录").click()
    expect(page.locator("#flash")).to_contain_text("客户坚持购买 股票精选四号，确认书已存档")
    expect(page.locator("#recommendations tbody tr").first).to_contain_text("已签署风险不匹配警示及投资者确认书")
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"suitability-panel-{viewport[0]}.png"), full_page=True)
