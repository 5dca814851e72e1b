"""Reminders and dictionaries in a real browser: an expired ID to 完善资料, an occupation disabled by HQ."""
import os
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer
from blueprints.id_expiry import services as id_expiry
from core.extensions import db
from core.timeutil import business_today
from tests import factories
from tests.e2e.test_customer_changes import _approve_on_this_terminal
from tests.e2e.test_opening_wizard import login
from tests.lifecycle import activate_customer
from tests.requests.helpers import login_as, staff_id

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")


def _shot(page: Page, name: str, viewport) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{viewport[0]}.png"), full_page=True)


@pytest.fixture
def restricted_customer(app, auth) -> str:
    """A customer with active accounts whose ID expired 40 days ago and is now restricted."""
    auth.login()
    customer_no = activate_customer(app, auth)
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        document = customer_services.current_id_document(customer.id)
        document.valid_from = business_today() - timedelta(days=3690)
        document.valid_to = business_today() - timedelta(days=40)
        id_expiry.restrict_expired(grace=30)
        db.session.commit()
    return customer_no


def test_clerk_follows_an_expired_id_reminder_to_complete_data(page: Page, app, restricted_customer, viewport):
    login(page)
    card = page.locator("#reminder-id_expired")
    expect(card).to_have_attribute("data-count", "1")
    expect(card).to_contain_text("已过期 40 天")
    _shot(page, "home-reminders", viewport)
    card.locator(f"a[href='/customers/{restricted_customer}']").click()

    expect(page.locator("#id-restriction")).to_contain_text("完善资料")
    expect(page.locator("#section-accounts")).to_contain_text("限制交易")
    _shot(page, "customer-restricted", viewport)
    page.locator("#complete-data").click()

    expect(page.locator("#id-restriction")).to_be_visible()
    expect(page.locator("input[name=element][value=renewal]")).to_be_checked()
    today = business_today()
    page.fill("#valid_from", (today - timedelta(days=2)).isoformat())
    page.fill("#valid_to", (today + timedelta(days=3650)).isoformat())
    page.get_by_role("button", name="查看修改对比").click()
    expect(page.locator("#change-comparison")).to_contain_text((today + timedelta(days=3650)).isoformat())
    _shot(page, "renewal-comparison", viewport)
    page.locator("#confirm-change").click()
    expect(page.locator("#change-status")).to_have_text("待复核")
    page.wait_for_load_state("load")
    _approve_on_this_terminal(page)
    expect(page.locator("#change-status")).to_have_text("已生效，报送中")

    page.goto(f"/customers/{restricted_customer}")
    expect(page.locator("#id-restriction")).to_have_count(0)
    expect(page.locator("#id-restriction-history")).to_contain_text("资料变更")
    expect(page.locator("#section-accounts")).not_to_contain_text("限制交易")
    # The table of contents takes the clerk to a section.
    page.locator("#customer-toc a[href='#section-reminders']").click()
    expect(page.locator("#section-reminders")).to_be_in_viewport()
    _shot(page, "customer-after-renewal", viewport)


def test_hq_disables_an_occupation_and_the_wizard_no_longer_offers_it(page: Page, app, viewport):
    clerk = login_as(app, "clerk")
    reference = factories.start(clerk, "dict-e2e")
    factories.walk_with(clerk, reference, "contact", staff_id(app, "clerk"))

    login(page, "admin")
    page.locator(".topnav summary", has_text="系统").click()
    page.locator(".topnav a", has_text="数据字典").click()
    expect(page.locator("#dictionary-occupation")).to_have_attribute("aria-current", "page")
    page.locator("#edit-freelancer").click()
    page.uncheck("#enabled")
    page.locator("#save-entry").click()
    expect(page.locator("#entry-freelancer")).to_contain_text("已停用")
    _shot(page, "dictionary-disabled", viewport)
    page.locator("form[action='/auth/logout'] button").click()

    login(page, "clerk")
    page.goto(factories.step_url(reference, "contact"))
    options = page.locator("#occupation option")
    expect(options.filter(has_text="自由职业者")).to_have_count(0)
    expect(options.filter(has_text="学生")).to_have_count(1)
    _shot(page, "wizard-contact-occupations", viewport)
