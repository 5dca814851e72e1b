"""The customer page and list: accounts with their states, masking by role, branches, audit."""
import pytest
from sqlalchemy import select

from blueprints.accounts.models import FundAccount, SecuritiesAccount
from blueprints.customers.models import Customer, CustomerKind
from core.extensions import db
from core.masking import mask_bank_card, mask_id_number
from core.models import AuditEvent
from core.roles import Role
from tests import factories
from tests.requests.helpers import add_staff, login_as, page_of
from tests.requests.test_return_visit import (  # noqa: F401  (file_store is an autouse fixture)
    OTHER_CUSTOMER,
    awaiting_visit,
    file_store,
    post_visit,
    shanghai_visit,
)

DEMO_CUSTOMER_NO = "C0101000001"


def customer_of(app, name="刘晓明") -> dict:
    with app.app_context():
        customer = db.session.scalar(factories.customer_named(name))
        fund = db.session.scalar(select(FundAccount).where(FundAccount.customer_id == customer.id))
        securities = db.session.scalars(select(SecuritiesAccount).where(SecuritiesAccount.customer_id == customer.id)).all()
        return {"customer_no": customer.customer_no, "unified": customer.unified_account_no,
                "fund_account": fund.number if fund else None, "securities": [s.number for s in securities]}


def active_customer(app) -> dict:
    """A customer whose accounts were opened and activated by a passed return visit."""
    reference = awaiting_visit(app)
    assert post_visit(login_as(app, "visitor"), reference).status_code == 303
    return customer_of(app)


def views(app, customer_no) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.view",
                                                                AuditEvent.object_id == customer_no)))


def test_customer_page_shows_the_accounts_with_their_states(app):
    customer = active_customer(app)
    response = login_as(app, "manager").get(f"/customers/{customer['customer_no']}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "刘晓明" in body and customer["customer_no"] in body and "现有客户" in body
    assert customer["unified"] and customer["unified"] in body
    fund = body.split(f'id="fund-account-{customer["fund_account"]}"')[1]
    assert "正常" in fund and "北京朝阳门营业部" in fund
    assert "上海A股账户" in fund and "深圳A股账户" in fund
    assert all(number in fund for number in customer["securities"]) and len(customer["securities"]) == 2
    assert "模拟" in fund  # the simulators opened the accounts and bound the card
    assert "中国工商银行" in fund and mask_bank_card(factories.BANK_CARD) in fund and "已绑定" in fund
    assert factories.BANK_CARD not in body


def test_accounts_awaiting_the_visit_show_as_not_yet_active(app):
    awaiting_visit(app)
    customer = customer_of(app)
    body = login_as(app, "visitor").get(f"/customers/{customer['customer_no']}").get_data(as_text=True)
    fund = body.split(f'id="fund-account-{customer["fund_account"]}"')[1]
    assert "未激活" in fund and "正常" not in fund


def test_manager_sees_the_id_number_masked_and_clerk_sees_it_in_full(app):
    customer = active_customer(app)
    url = f"/customers/{customer['customer_no']}"
    for username in ("manager", "visitor", "admin"):
        body = login_as(app, username).get(url).get_data(as_text=True)
        assert mask_id_number(factories.CUSTOMER_ID) in body, username
        assert factories.CUSTOMER_ID not in body and factories.CUSTOMER_ID[6:14] not in body, username
    for username in ("clerk", "reviewer"):
        body = login_as(app, username).get(url).get_data(as_text=True)
        assert factories.CUSTOMER_ID in body, username


def test_customer_of_another_branch_is_404(app):
    customer = active_customer(app)
    add_staff(app, "manager_sh", Role.BRANCH_MANAGER, "0201", "上海经理")
    for username in ("clerk_sh", "manager_sh"):
        response = login_as(app, username).get(f"/customers/{customer['customer_no']}")
        assert response.status_code == 404, username
        assert "不属于您的营业部" in response.get_data(as_text=True)
    assert login_as(app, "clerk_sh").get("/customers/NOSUCH").status_code == 404
    assert views(app, customer["customer_no"]) == []


def test_hq_admin_sees_customers_of_every_branch(app):
    shanghai_visit(app)
    customer = customer_of(app, OTHER_CUSTOMER["name"])
    admin = login_as(app, "admin")
    response = admin.get(f"/customers/{customer['customer_no']}")
    assert response.status_code == 200
    assert customer["fund_account"] in response.get_data(as_text=True)
    assert admin.get(f"/customers/{DEMO_CUSTOMER_NO}").status_code == 200
    listing = admin.get("/customers/").get_data(as_text=True)
    assert customer["customer_no"] in listing and DEMO_CUSTOMER_NO in listing


@pytest.mark.parametrize("username", ["witness", "marketing", "archivist"])
def test_customer_pages_are_closed_to_other_roles(app, username):
    other = login_as(app, username)
    assert other.get("/customers/").status_code == 403
    assert other.get(f"/customers/{DEMO_CUSTOMER_NO}").status_code == 403


def test_reading_the_customer_page_is_audited(app):
    login_as(app, "manager").get(f"/customers/{DEMO_CUSTOMER_NO}")
    [event] = views(app, DEMO_CUSTOMER_NO)
    assert event.object_type == "customer" and event.actor_name == "manager"
    assert "11010519491231002X" not in str(event.detail)


def test_customer_without_accounts_says_so(app):
    body = login_as(app, "clerk").get(f"/customers/{DEMO_CUSTOMER_NO}").get_data(as_text=True)
    assert "张建国" in body and "暂无本营业部可查看的账户" in body and "尚未开立" in body


def test_list_shows_the_branchs_customers_masked_newest_first(app):
    active_customer(app)
    newest = customer_of(app)["customer_no"]
    shanghai_visit(app)
    shanghai = customer_of(app, OTHER_CUSTOMER["name"])["customer_no"]
    response = login_as(app, "manager").get("/customers/")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "刘**" in body and "张**" in body
    assert "刘晓明" not in body and "张建国" not in body
    assert body.index(newest) < body.index(DEMO_CUSTOMER_NO)
    assert shanghai not in body
    assert f"/customers/{newest}" in page_of(response).urls


def test_list_searches_by_customer_number(app):
    customer_no = active_customer(app)["customer_no"]
    manager = login_as(app, "manager")
    body = manager.get("/customers/", query_string={"q": customer_no}).get_data(as_text=True)
    assert customer_no in body and DEMO_CUSTOMER_NO not in body
    body = manager.get("/customers/", query_string={"q": DEMO_CUSTOMER_NO.lower()}).get_data(as_text=True)
    assert DEMO_CUSTOMER_NO in body and customer_no not in body
    assert "没有客户号以" in manager.get("/customers/", query_string={"q": "%"}).get_data(as_text=True)
    fragment = manager.get("/customers/", query_string={"q": DEMO_CUSTOMER_NO[:5]}, htmx=True)
    text = fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]
    assert text.lstrip().startswith('<div id="customer-rows">') and DEMO_CUSTOMER_NO in text


def test_search_does_not_reach_another_branchs_customers(app):
    shanghai_visit(app)
    shanghai = customer_of(app, OTHER_CUSTOMER["name"])["customer_no"]
    body = login_as(app, "manager").get("/customers/", query_string={"q": shanghai}).get_data(as_text=True)
    assert "没有客户号以" in body


def test_closed_customer_drops_out_of_the_list_and_the_page(app):
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == DEMO_CUSTOMER_NO))
        customer.kind = CustomerKind.HISTORICAL
        db.session.commit()
    manager = login_as(app, "manager")
    assert DEMO_CUSTOMER_NO not in manager.get("/customers/").get_data(as_text=True)
    assert manager.get(f"/customers/{DEMO_CUSTOMER_NO}").status_code == 404
