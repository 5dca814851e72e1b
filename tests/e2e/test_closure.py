"""Closure at the counter: refused while money remains, then submitted, reviewed on the same terminal, closed."""
import os

import pytest
from playwright.sync_api import Page, expect

from blueprints.home.demo import DEMO_PASSWORD
from tests.closure.support import active_customer, drain
from tests.conftest import Auth
from tests.e2e.test_opening_wizard import login

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("CLOSURE_SCREENSHOTS", "/tmp")


def test_a_closure_is_refused_with_a_balance_then_reviewed_and_closed(page: Page, app, viewport):
    size = viewport[0]
    customer_no, number = active_customer(app, Auth(app.test_client()))
    bank = app.extensions["depository_bank"]
    with app.app_context():
        bank.set_balance(number, "25.80")

    login(page)
    page.goto(f"/closure/{customer_no}")
    account = page.locator(f"#closure-account-{number}")
    expect(account.locator("tr[data-key=zero_balance]")).to_contain_text("资金余额 ¥25.80，须先转出")
    expect(account.get_by_role("button", name="提交销户复核")).to_be_disabled()
    page.screenshot(path=f"{SHOTS}/closure-{size}-1-refused.png", full_page=True)

    # The customer takes the money out at the bank; the clerk checks again.
    with app.app_context():
        bank.set_balance(number, "0")
    page.goto(f"/closure/{customer_no}")
    page.wait_for_load_state("load")
    expect(account.locator("tr[data-key=zero_balance]")).to_contain_text("满足")
    account.get_by_label("已核对客户本人及其出示的有效身份证件，客户本人申请销户").check()
    account.get_by_role("button", name="提交销户复核").click()
    expect(page.locator("#closure-status")).to_have_text("待复核")
    page.wait_for_load_state("load")

    # The reviewer decides on the clerk's screen with their own credentials.
    page.fill("#reviewer_username", "reviewer")
    page.fill("#reviewer_password", DEMO_PASSWORD)
    page.check("input[name=decision][value=approve]")
    page.screenshot(path=f"{SHOTS}/closure-{size}-2-review.png", full_page=True)
    page.get_by_role("button", name="确认复核").click()
    expect(page.locator("#closure-status")).to_have_text("销户中")
    expect(page.locator(".who")).to_contain_text("王柜员")
    expect(page.locator("#closure-steps tr[data-step='1'] .step-state")).to_have_text("未发送")

    # The worker sends each step; the page follows by itself.
    drain(app)
    expect(page.locator("#closure-status")).to_have_text("已销户", timeout=15_000)
    expect(page.locator("#customer-kind")).to_contain_text("历史客户")
    expect(page.locator("#closure-steps .step-state")).to_have_text(["处理成功"] * 5)
    expect(page.locator("#retention")).to_contain_text("不少于二十年")
    page.screenshot(path=f"{SHOTS}/closure-{size}-3-closed.png", full_page=True)
