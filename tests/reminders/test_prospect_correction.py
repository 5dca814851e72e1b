"""Correcting a potential customer before any account: a new profile version, checked like the entry, one
decision when posted twice or from a stale form, and only for a potential customer of the branch."""
import re

import pytest
from sqlalchemy import select

from blueprints.customers.models import Customer, CustomerProfile
from core.extensions import db
from core.masking import mask_id_number
from core.models import AuditEvent
from tests import factories
from tests.lifecycle import activate_customer
from tests.reminders.test_prospects import NAME, enter
from tests.requests.helpers import login_as, page_of

OTHER_ID = factories.make_id("110105", "19880612", "331")


def prospect_no(auth) -> str:
    return enter(auth).headers["Location"].rstrip("/").split("/")[-1]


def form_values(auth, customer_no: str) -> dict:
    """What the correction form shows, as a browser would post it back unchanged."""
    response = auth.get(f"/prospects/{customer_no}/edit")
    assert response.status_code == 200
    page = page_of(response)
    values = {name: page.value(name) or "" for name in ("csrf_token", "profile_version", "name", "id_number", "mobile")}
    values.update(id_type=page.select_value("id_type"), source=page.select_value("source"),
                  notes=re.search(r'<textarea[^>]*name="notes"[^>]*>\s*([^<]*)</textarea>',
                                  response.get_data(as_text=True)).group(1).strip())
    return values


def versions(app, customer_no: str) -> list[CustomerProfile]:
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        rows = list(db.session.scalars(select(CustomerProfile).where(CustomerProfile.customer_id == customer.id)
                                       .order_by(CustomerProfile.version)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_a_clerk_corrects_the_name_and_mobile_into_a_new_version(app):
    clerk = login_as(app, "clerk")
    customer_no = prospect_no(clerk)
    values = form_values(clerk, customer_no)
    assert values["id_number"] == factories.CUSTOMER_ID and values["profile_version"] == "1"
    values.update(name="刘岩", mobile="13812348001", notes="咨询两融与期权")
    response = clerk.post(f"/prospects/{customer_no}/edit", values)
    assert response.status_code == 303
    first, second = versions(app, customer_no)
    assert (first.name, first.mobile) == (NAME, "13812348000")  # kept, not overwritten
    assert (second.name, second.mobile, second.source) == ("刘岩", "13812348001", "prospect")
    page = clerk.get(f"/customers/{customer_no}").get_data(as_text=True)
    assert "咨询两融与期权" in page and "潜在客户登记" in page
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.prospect_correct"))
        assert set(event.detail["fields"]) == {"name", "mobile", "notes"}
        assert "刘岩" not in str(event.detail) and "13812348001" not in str(event.detail)


def test_the_same_form_posted_twice_or_stale_makes_one_version(app):
    clerk = login_as(app, "clerk")
    customer_no = prospect_no(clerk)
    values = form_values(clerk, customer_no)
    values["name"] = "刘岩"
    assert clerk.post(f"/prospects/{customer_no}/edit", values).status_code == 303
    # A double click: the same values from the same form are saved once, and the second post succeeds.
    again = clerk.post(f"/prospects/{customer_no}/edit", values)
    assert again.status_code == 303
    assert "潜在客户资料已更正" in clerk.get(again.headers["Location"]).get_data(as_text=True)
    # A second tab with the old form and other values: refused, nothing overwritten.
    stale = clerk.post(f"/prospects/{customer_no}/edit", dict(values, name="刘言"))
    assert stale.status_code == 409 and "刚被他人修改" in stale.get_data(as_text=True)
    assert [v.name for v in versions(app, customer_no)] == [NAME, "刘岩"]


def test_no_change_adds_no_version(app):
    clerk = login_as(app, "clerk")
    customer_no = prospect_no(clerk)
    assert clerk.post(f"/prospects/{customer_no}/edit", form_values(clerk, customer_no)).status_code == 303
    assert len(versions(app, customer_no)) == 1


@pytest.mark.parametrize("overrides, field, message", [
    ({"id_number": "110105198806123150"}, "id_number", "校验"),
    ({"id_number": "11010519491231002X"}, "id_number", "已有客户档案"),
    ({"name": ""}, "name", "请填写姓名"),
    ({"mobile": "12345"}, "mobile", "手机"),
])
def test_bad_corrections_are_refused_next_to_the_field(app, overrides, field, message):
    clerk = login_as(app, "clerk")
    customer_no = prospect_no(clerk)
    values = dict(form_values(clerk, customer_no), notes="另有备注", **overrides)
    response = clerk.post(f"/prospects/{customer_no}/edit", values)
    assert response.status_code == 422
    assert any(message in e for e in page_of(response).errors_for(field)), page_of(response).all_errors()
    assert "另有备注" in response.get_data(as_text=True)
    assert len(versions(app, customer_no)) == 1


def test_a_branch_manager_is_not_shown_the_full_number_and_an_empty_one_keeps_it(app):
    customer_no = prospect_no(login_as(app, "clerk"))
    manager = login_as(app, "manager")
    html = manager.get(f"/prospects/{customer_no}/edit").get_data(as_text=True)
    assert factories.CUSTOMER_ID not in html and "13812348000" not in html
    assert mask_id_number(factories.CUSTOMER_ID) in html
    values = form_values(manager, customer_no)
    values.update(name="刘岩", id_number="", mobile="")
    assert manager.post(f"/prospects/{customer_no}/edit", values).status_code == 303
    latest = versions(app, customer_no)[-1]
    assert (latest.name, latest.id_number, latest.mobile) == ("刘岩", factories.CUSTOMER_ID, "13812348000")


def test_only_a_potential_customer_of_the_branch_is_corrected_here(app, auth):
    clerk = login_as(app, "clerk")
    customer_no = prospect_no(clerk)
    assert login_as(app, "clerk_sh").get(f"/prospects/{customer_no}/edit").status_code == 404
    for username in ("reviewer", "archivist", "marketing", "cmanager"):
        assert login_as(app, username).get(f"/prospects/{customer_no}/edit").status_code == 403, username
    # The demo customer has accounts: a change of their details is a 资料变更, not a correction.
    current = clerk.get("/prospects/C0101000001/edit")
    assert current.status_code == 409 and "资料变更" in current.get_data(as_text=True)
    assert 'id="correct-prospect"' in clerk.get(f"/customers/{customer_no}").get_data(as_text=True)
    assert 'id="correct-prospect"' not in clerk.get("/customers/C0101000001").get_data(as_text=True)


def test_a_form_left_open_while_the_account_was_opened_is_refused(app, auth):
    assert auth.login("clerk").status_code == 303
    customer_no = prospect_no(auth)
    values = form_values(auth, customer_no)
    activate_customer(app, auth, name=NAME)
    response = auth.post(f"/prospects/{customer_no}/edit", dict(values, name="刘岩"))
    assert response.status_code == 409
    assert all(v.name == NAME for v in versions(app, customer_no))
