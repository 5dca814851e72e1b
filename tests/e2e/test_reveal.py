"""A branch manager shows a customer's full mobile (显示完整): only that value changes, and the showing is audited."""
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from blueprints.auth.models import Branch
from blueprints.customers import services as customer_services
from core.extensions import db
from core.masking import mask_address, mask_id_number, mask_mobile
from core.models import AuditEvent
from tests import factories
from tests.e2e.test_opening_wizard import login

pytestmark = pytest.mark.e2e
CUSTOMER_NO = "C0101720001"
MOBILE = "13912345678"
ADDRESS = "北京市朝阳区建国路88号院3号楼1201"


@pytest.fixture
def customer(app):
    with app.app_context():
        branch = db.session.scalar(select(Branch).where(Branch.code == "0101"))
        customer_services.create_customer(
            branch=branch, customer_no=CUSTOMER_NO, source="import", actor=None, reason="既有客户",
            values={"name": "王晓东", "id_type": "resident_id", "id_number": factories.CUSTOMER_ID, "mobile": MOBILE,
                    "address": ADDRESS})
        db.session.commit()


def reveals(app):
    with app.app_context():
        return [(e.object_id, e.detail) for e in
                db.session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.reveal"))]


def test_manager_reveals_the_mobile_in_place_and_the_rest_stays_masked(page: Page, app, customer, viewport):
    login(page, "manager")
    page.goto(f"/customers/{CUSTOMER_NO}")
    page.wait_for_load_state("load")
    mobile = page.locator("#reveal-mobile")
    expect(mobile).to_contain_text(mask_mobile(MOBILE))
    expect(page.locator("#customer-detail")).not_to_contain_text(MOBILE)
    button = mobile.get_by_role("button", name="显示完整手机号码")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= viewport[1]["width"]

    button.click()
    expect(page.locator("#reveal-mobile")).to_contain_text(MOBILE)
    expect(page.locator("#reveal-mobile")).to_contain_text("本次查看已记录")
    expect(page.locator("#reveal-mobile").get_by_role("button")).to_have_count(0)
    # Only that field was swapped: the ID number and the address are still masked, with their buttons.
    expect(page.locator("#reveal-id-number")).to_contain_text(mask_id_number(factories.CUSTOMER_ID))
    expect(page.locator("#reveal-address")).to_contain_text(mask_address(ADDRESS))
    expect(page.locator("#reveal-address").get_by_role("button", name="显示完整联系地址")).to_be_visible()
    expect(page.locator("#customer-detail")).not_to_contain_text(factories.CUSTOMER_ID)
    assert page.url.endswith(f"/customers/{CUSTOMER_NO}")
    assert reveals(app) == [(CUSTOMER_NO, {"field": "mobile"})]

    page.reload()
    expect(page.locator("#reveal-mobile")).to_contain_text(mask_mobile(MOBILE))
    expect(page.locator("#customer-detail")).not_to_contain_text(MOBILE)
