"""A create form's client token makes one record, and only ever for the staff member whose form it was.

Posted again by its maker (a double click) it finds the first record; posted by anyone else (a form copied
or replayed from another terminal) it is refused with 403 and an audit row, and names nothing of the
record it made: no reference, no customer, no redirect to it.
"""
import io
import secrets

import pytest
from sqlalchemy import func, select

from blueprints.customers.models import Customer
from blueprints.grading.models import ImportJob
from blueprints.managers.models import Handover
from blueprints.merges.models import CustomerMerge
from blueprints.products.models import Product, Recommendation
from blueprints.prospects.models import ProspectEntry
from blueprints.service.models import ServiceRecord
from core.extensions import db
from core.idempotency import TokenNotYours
from core.models import AuditEvent
from tests import factories
from tests.grading.support import PRICE_HEADER, csv_bytes
from tests.requests.helpers import add_staff, login_as, staff_id

DEMO_CUSTOMER = "C0101000001"
REFUSED = TokenNotYours.message


def _one(app, statement):
    with app.app_context():
        return db.session.scalar(statement)


def prospect(app):
    data = {"name": "刘䶮", "id_type": "resident_id", "id_number": factories.CUSTOMER_ID, "mobile": "13812348000",
            "source": "walk_in", "notes": "咨询两融业务"}
    return "clerk", "manager", "/prospects/new", data, ProspectEntry, {}


def service_record(app):
    data = {"kind": "complaint", "subject": "佣金收取有异议", "content": "客户称佣金高于约定。", "channel": "phone",
            "category": "brokerage", "urgency": "general", "received_on": factories.business_date(),
            "complained_staff": 0, "handler": 0}
    add_staff(app, "clerk2", "clerk", full_name="王柜员")
    return "clerk", "clerk2", f"/service/new/{DEMO_CUSTOMER}", data, ServiceRecord, {}


def handover(app):
    customer_id = _one(app, select(Customer.id).where(Customer.customer_no == DEMO_CUSTOMER))
    data = {"from_staff": staff_id(app, "cmanager"), "kind": "selected", "customers": [customer_id],
            "successors": [staff_id(app, "cmanager2")], "effective_date": factories.business_date(days=-3),
            "reason": "岗位调整"}
    return "cmanager", "manager", "/managers/handovers/new", data, Handover, {}


def merge(app):
    from tests.merges.test_merge import customer, same_person

    flag_id = same_person(app, login_as(app, "manager"))
    data = {"survivor": str(customer(app, "C0101500001").id), "reason": "身份证与居住证为同一人"}
    return "manager", "admin", f"/merges/new/{flag_id}", data, CustomerMerge, {}


def recommendation(app):
    add_staff(app, "clerk2", "clerk", full_name="王柜员")
    with app.app_context():
        db.session.add(Product(code="MMF01", name="货币基金一号", product_type="fund", risk_level="R1"))
        db.session.commit()
    data = {"customer_no": DEMO_CUSTOMER, "product_id": _one(app, select(Product.id).where(Product.code == "MMF01"))}
    return "clerk", "clerk2", "/products/recommend", data, Recommendation, {}


def grading_import(app):
    def data():  # a file is read once: a new one for every post
        rows = [PRICE_HEADER, ["600000", "2026-11-27", "10.00", "否", "J66"]]
        return {"kind": "prices", "file": (io.BytesIO(csv_bytes(rows)), "p.csv")}
    return "admin", "manager", "/grading/imports", data, ImportJob, {"content_type": "multipart/form-data"}


FORMS = [prospect, service_record, handover, merge, recommendation, grading_import]


def _post(auth, url, data, token, options):
    values = data() if callable(data) else dict(data)
    return auth.post(url, {**values, "client_token": token}, **options)


@pytest.mark.parametrize("form", FORMS, ids=[f.__name__ for f in FORMS])
def test_a_client_token_posted_by_another_staff_member_is_refused_and_names_nothing(app, form):
    maker, other, url, data, model, options = form(app)
    token = secrets.token_urlsafe(24)
    made = _post(login_as(app, maker), url, data, token, options)
    assert made.status_code == 303, made.get_data(as_text=True)[:800]
    again = _post(login_as(app, maker), url, data, token, options)
    assert again.status_code == 303 and again.headers["Location"] == made.headers["Location"]  # a double click
    assert _one(app, select(func.count()).select_from(model)) == 1

    refused = _post(login_as(app, other), url, data, token, options)

    assert refused.status_code == 403
    body = refused.get_data(as_text=True)
    assert REFUSED in body and "Location" not in refused.headers
    named = made.headers["Location"].rsplit("/", 1)[-1]  # the record's reference, customer number or id
    assert made.headers["Location"] not in body and (named.isdigit() or named not in body)
    assert _one(app, select(func.count()).select_from(model)) == 1
    denied = _one(app, select(AuditEvent).where(AuditEvent.action == "access.denied")
                  .order_by(AuditEvent.id.desc()))
    assert denied is not None and denied.actor_name == other and denied.detail.get("status") == 403


def test_the_refusal_swaps_a_banner_for_htmx_so_the_typed_form_stays(app):
    maker, other, url, data, _model, options = service_record(app)
    token = secrets.token_urlsafe(24)
    assert _post(login_as(app, maker), url, data, token, options).status_code == 303

    refused = login_as(app, other).post(url, {**data, "client_token": token}, htmx=True)

    assert refused.status_code == 403 and refused.headers["HX-Retarget"] == "#flash"
    assert REFUSED in refused.get_data(as_text=True)
