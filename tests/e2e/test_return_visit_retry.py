"""A return visit that fails goes back to the queue; the next attempt starts empty and can pass."""
import os
import tempfile

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.e2e.test_opening_wizard import login
from tests.requests.helpers import application_row
from tests.requests.test_return_visit import awaiting_visit

pytestmark = pytest.mark.e2e

FAILED_REASON = "客户表示未认真阅读风险揭示书，约定明天再次回访"


def test_failed_visit_is_retried_with_an_empty_form_and_passes(page: Page, app, viewport):
    reference = awaiting_visit(app)
    login(page, "visitor")
    page.goto("/return-visits/")
    row = page.locator("tr", has_text=reference)
    expect(row.locator(".attempts")).to_have_text("0 / 3")
    row.get_by_role("link", name="开始回访").click()

    # The script: each item of 第十一条 beside its checkbox, with the masked facts to check against.
    expect(page.locator("#script-opening")).to_contain_text("示范证券股份有限公司")
    identity = page.locator("#script-identity")
    expect(identity).to_contain_text("请问是刘**先生本人吗？")
    expect(identity.locator(".script-facts")).to_contain_text("*" * 14 + factories.CUSTOMER_ID[-4:])
    expect(page.locator("#return-visit")).not_to_contain_text("刘晓明")
    expect(page.locator("#script-channel_confirmed")).to_contain_text("现场办理")
    name, _size = viewport
    page.screenshot(path=os.path.join(tempfile.gettempdir(), f"return_visit_script_{name}.png"), full_page=True, caret="initial")

    # First attempt: reached, two items confirmed, the customer has not understood the disclosures.
    page.locator("#script-identity input[type=checkbox]").check()
    page.locator("#script-true_wish input[type=checkbox]").check()
    page.check("input[name=outcome][value=failed]")
    page.get_by_role("button", name="保存回访结果").click()
    # Without the reason the form comes back with the message next to it, nothing ticked lost.
    expect(page.locator("#field-notes .field-error")).to_contain_text("须填写原因")
    expect(page.locator("#field-items input[type=checkbox]:checked")).to_have_count(2)
    expect(page.locator("input[name=outcome][value=failed]")).to_be_checked()
    page.fill("#notes", FAILED_REASON)
    page.get_by_role("button", name="保存回访结果").click()
    expect(page.locator("#flash")).to_contain_text("第 1 次")
    expect(page.locator("#flash")).to_contain_text("本轮还可回访 2 次")
    row = page.locator("tr", has_text=reference)
    expect(row.locator(".attempts")).to_have_text("1 / 3")
    expect(row.locator(".last-outcome")).to_contain_text("已接通，回访未通过")
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"

    # Second attempt: the form starts empty, the first attempt is listed below it.
    row.get_by_role("link", name="继续回访").click()
    expect(page.locator("#visit-form h2")).to_contain_text("第 2 次")
    expect(page.locator("#field-items input[type=checkbox]:checked")).to_have_count(0)
    expect(page.locator("input[name=outcome]:checked")).to_have_count(0)
    expect(page.locator("#notes")).to_have_value("")
    expect(page.locator("#visit-attempts")).to_contain_text("已接通，回访未通过")
    for box in page.locator("#field-items input[type=checkbox]").all():
        box.check()
    page.check("input[name=outcome][value=passed]")
    page.get_by_role("button", name="保存回访结果").click()
    expect(page.locator("#flash")).to_contain_text("账户已激活")
    expect(page.locator("tr", has_text=reference)).to_have_count(0)

    assert application_row(app, reference)["stage"] == "active"
    page.goto(f"/return-visits/{reference}")
    expect(page.locator("#return-visit h1")).to_contain_text("已激活")
    expect(page.locator("#visit-attempts tbody tr")).to_have_count(2)
