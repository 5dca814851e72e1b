"""From submission to an active account: same-terminal review, accounts, return visit."""
import pytest
from playwright.sync_api import Page, expect

from blueprints.home.demo import DEMO_PASSWORD
from core import outbox
from tests.e2e.test_opening_wizard import complete_wizard, login

pytestmark = pytest.mark.e2e


def test_submitted_application_becomes_an_active_account(page: Page, new_context, app):
    login(page)
    reference = complete_wizard(page)
    page.get_by_role("button", name="提交复核").click()
    expect(page.locator("#submitted h1")).to_have_text("开户申请已提交复核")

    # The reviewer approves on the clerk's screen with their own credentials. The button works
    # through htmx only, so wait until the page (and htmx with it) has finished loading.
    page.wait_for_load_state("load")
    page.get_by_role("button", name="同机复核").click()
    page.fill("#reviewer_username", "reviewer")
    page.fill("#reviewer_password", "wrong-password")
    page.check("input[name=decision][value=approve]")
    page.get_by_role("button", name="确认复核").click()
    expect(page.locator("#field-reviewer_password .field-error")).to_be_visible()
    expect(page.locator("#reviewer_username")).to_have_value("reviewer")
    page.fill("#reviewer_password", DEMO_PASSWORD)
    page.check("input[name=decision][value=approve]")
    page.get_by_role("button", name="确认复核").click()
    expect(page.locator("#same-terminal-result")).to_contain_text("李复核")
    expect(page.locator(".who")).to_contain_text("王柜员")  # still the clerk's session

    # China Clearing and the bank answer through the outbox worker.
    with app.app_context():
        assert outbox.run_once().delivered == 2
    page.goto(f"/opening/{reference}/detail")
    expect(page.locator("#application-detail h1")).to_contain_text("待回访")
    fund_account = page.locator("#fund-account strong").inner_text()

    # The return-visit agent calls the customer and records a pass.
    agent_page = new_context().new_page()
    login(agent_page, "visitor")
    agent_page.goto("/return-visits/")
    agent_page.locator("tr", has_text=reference).get_by_role("link", name="开始回访").click()
    # all() does not wait: without this it may collect the boxes of the queue page still shown (none).
    expect(agent_page.locator("#field-items")).to_be_visible()
    for box in agent_page.locator("#field-items input[type=checkbox]").all():
        box.check()
    agent_page.check("input[name=outcome][value=passed]")
    agent_page.get_by_role("button", name="保存回访结果").click()
    expect(agent_page.locator("#flash")).to_contain_text("账户已激活")

    page.goto(f"/opening/{reference}/detail")
    expect(page.locator("#application-detail h1")).to_contain_text("已激活")
    page.locator("#fund-account a").click()
    expect(page.locator("body")).to_contain_text(fund_account)
    expect(page.locator("body")).to_contain_text("正常")
