"""A customer merge in a real browser: the branch manager finds a flagged pair to be one person and enters the
merge (a double click records one); the reviewer, told on the home page, approves; the survivor's page then
lists the merged record, which opens read only."""
import os
from datetime import date

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from blueprints.customers.models import Customer
from blueprints.merges.models import CustomerMerge
from core.extensions import db
from tests import factories
from tests.e2e.test_opening_wizard import login
from tests.requests.test_customer_search import add_customer

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")
# One pair per viewport: the browser tests share one database.
PAIRS = {"desktop": ("陈美玲", date(1985, 2, 3), "C0101601280", "C0101701280", "H60001280"),
         "tablet": ("陈美华", date(1986, 3, 4), "C0101600768", "C0101700768", "H60000768")}


def _shot(page: Page, name: str, viewport) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{viewport[0]}.png"), full_page=True)


def test_a_manager_merges_two_records_of_one_person_and_the_reviewer_approves(app, page: Page, new_context, viewport):
    name, birth, kept_no, merged_no, permit = PAIRS[viewport[0]]
    with app.app_context():
        add_customer(kept_no, name, factories.make_id("110105", birth.strftime("%Y%m%d"), "262"), birth_date=birth)
        add_customer(merged_no, name, permit, id_type="hmt_residence_permit", birth_date=birth, kind="potential")
        db.session.commit()
    login(page, "manager")
    page.locator(".topnav summary", has_text="客户").click()
    page.get_by_role("link", name="疑似重复").click()
    row = page.locator("tr", has_text=merged_no)
    row.locator("input[name=status][value=same_person]").check()
    row.locator("input[name=note]").fill("核对身份证与港澳台居民居住证，为同一人")
    row.get_by_role("button", name="记录结论").click()
    page.get_by_role("link", name="核实为同一人（待合并业务）").click()
    page.locator("tr", has_text=merged_no).get_by_role("link", name="办理合并").click()
    expect(page.locator("h1")).to_have_text("办理客户合并")
    expect(page.locator(f"#record-{kept_no}")).to_be_visible()
    expect(page.locator("#merge-records")).not_to_contain_text(name)  # masked for the branch manager
    # The suggested survivor is the current customer; submitting without a reason keeps the choice.
    expect(page.locator("#merge-form input[name=survivor]").first).to_be_checked()
    page.locator("#merge-submit").click()
    expect(page.locator("#field-reason .field-error")).to_have_text("请填写合并原因")
    expect(page.locator("#merge-form input[name=survivor]").first).to_be_checked()
    page.fill("#reason", "同一人先后以身份证和居住证建档")
    _shot(page, "merge-entry", viewport)
    page.locator("#merge-submit").dblclick()
    expect(page.locator("#merge-status")).to_have_text("待复核")
    reference = page.locator("h1").inner_text().split()[1]
    with app.app_context():  # the double click recorded one merge
        absorbed_id = db.session.scalar(select(Customer.id).where(Customer.customer_no == merged_no))
        assert db.session.scalar(select(func.count()).select_from(CustomerMerge)
                                 .where(CustomerMerge.absorbed_id == absorbed_id)) == 1
    expect(page.locator("#awaiting-review")).to_be_visible()

    reviewer = new_context().new_page()
    login(reviewer, "reviewer")
    expect(reviewer.locator("#reminders")).to_contain_text(reference)
    reviewer.locator("#reminders a", has_text=reference).click()
    expect(reviewer.locator("#merge-records")).to_contain_text(name)  # the reviewer sees names in full
    reviewer.check("input[name=decision][value=approve]")
    reviewer.fill("#note", "证件核对无误")
    _shot(reviewer, "merge-review", viewport)
    reviewer.locator("#decision-submit").click()
    expect(reviewer.locator("#merge-status")).to_have_text("已合并")
    reviewer.locator("#merge-effect a").click()
    expect(reviewer.locator("#merged-records")).to_contain_text(merged_no)
    reviewer.locator("#merged-records a", has_text=merged_no).click()
    expect(reviewer.locator("#merged-banner")).to_contain_text(kept_no)
    expect(reviewer.locator("h1 .status")).to_have_text("已合并客户")
    expect(reviewer.locator("#merged-into")).to_contain_text(kept_no)
    _shot(reviewer, "merged-record", viewport)
    # Back on the manager's tab, a reload shows the decision.
    page.reload()
    expect(page.locator("#merge-status")).to_have_text("已合并")
