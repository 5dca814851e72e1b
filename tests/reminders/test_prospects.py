"""Potential customers: entered before any account, checked like an opening, joined (not duplicated) at approval."""
import re

import pytest
from sqlalchemy import func, select

from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer, CustomerKind
from blueprints.prospects.models import ProspectEntry
from core.extensions import db
from tests import factories
from tests.lifecycle import activate_customer
from tests.requests.helpers import login_as, page_of

NAME = "刘䶮"


def form_token(auth) -> str:
    html = auth.get("/prospects/new").get_data(as_text=True)
    return re.search(r'name="client_token" type="hidden" value="([^"]+)"', html).group(1)


def enter(auth, **overrides):
    data = {"name": NAME, "id_type": "resident_id", "id_number": factories.CUSTOMER_ID, "mobile": "13812348000",
            "source": "walk_in", "notes": "咨询两融业务", "client_token": form_token(auth)}
    data.update(overrides)
    return auth.post("/prospects/new", data)


def customers_with_id(app) -> list[Customer]:
    with app.app_context():
        found = list(db.session.scalars(select(Customer).where(customer_services.with_id_number(factories.CUSTOMER_ID))))
        for c in found:
            _ = c.kind, c.customer_no
            db.session.expunge(c)
        return found


def test_clerk_enters_a_potential_customer_shown_with_its_kind(app):
    clerk = login_as(app, "clerk")
    response = enter(clerk)
    assert response.status_code == 303
    [customer] = customers_with_id(app)
    assert customer.kind == CustomerKind.POTENTIAL
    listing = clerk.get("/customers/").get_data(as_text=True)
    assert customer.customer_no in listing and "潜在客户" in listing
    page = clerk.get(f"/customers/{customer.customer_no}").get_data(as_text=True)
    assert "营业部到访" in page and "咨询两融业务" in page
    assert factories.CUSTOMER_ID not in response.headers["Location"]


def test_a_double_submit_records_one_customer(app):
    clerk = login_as(app, "clerk")
    token = form_token(clerk)
    data = {"name": NAME, "id_type": "resident_id", "id_number": factories.CUSTOMER_ID, "source": "phone",
            "client_token": token}
    first, second = clerk.post("/prospects/new", data), clerk.post("/prospects/new", data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(customers_with_id(app)) == 1


@pytest.mark.parametrize("overrides, field, message", [
    ({"id_number": "110105198806123150"}, "id_number", "校验"),
    ({"name": ""}, "name", "请填写姓名"),
    ({"mobile": "12345"}, "mobile", "手机"),
    ({"source": ""}, "source", "请选择客户来源"),
])
def test_bad_input_is_refused_next_to_the_field_keeping_what_was_typed(app, overrides, field, message):
    clerk = login_as(app, "clerk")
    response = enter(clerk, **overrides)
    assert response.status_code == 422
    errors = page_of(response).errors_for(field)
    assert any(message in e for e in errors), page_of(response).all_errors()
    assert "咨询两融业务" in response.get_data(as_text=True)
    assert customers_with_id(app) == []


def test_an_id_number_already_on_record_is_not_entered_again(app):
    clerk = login_as(app, "clerk")
    response = enter(clerk, id_number="11010519491231002X", name="张建国")
    assert response.status_code == 422
    assert any("已有客户档案" in e and "C0101000001" in e for e in page_of(response).errors_for("id_number"))


@pytest.mark.parametrize("username, status", [("reviewer", 403), ("archivist", 403), ("marketing", 403),
                                              ("manager", 200), ("clerk", 200)])
def test_clerks_and_branch_managers_enter_potential_customers(app, username, status):
    assert login_as(app, username).get("/prospects/new").status_code == status


def test_opening_joins_the_potential_customer_instead_of_creating_another(app, auth):
    assert auth.login("clerk").status_code == 303
    response = enter(auth)
    potential_no = response.headers["Location"].rstrip("/").split("/")[-1]
    customer_no = activate_customer(app, auth, name=NAME)
    assert customer_no == potential_no
    [customer] = customers_with_id(app)
    assert customer.kind == CustomerKind.CURRENT
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ProspectEntry)) == 1
        assert db.session.scalar(select(Customer.profile_version).where(Customer.customer_no == customer_no)) == 2
