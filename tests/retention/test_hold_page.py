"""Legal holds on the archive's customer file page: placed and lifted with a reason by an archivist or HQ,
shown with the retention term; refusals next to the field; a double submit or two archivists at once
leave one standing hold; another branch's customer is not found."""
import threading

import pytest
from sqlalchemy import func, select

from blueprints.retention.models import LegalHold
from core.extensions import db
from core.models import AuditEvent
from tests.requests.helpers import add_staff, login_as, page_of
from tests.retention.test_purge import closed_customer  # noqa: F401  (a fixture)

DEMO_CUSTOMER = "C0101000001"  # active, of the Beijing branch
SHANGHAI_CUSTOMER = "C0201000009"


def file_url(customer_no: str) -> str:
    return f"/archive/customers/{customer_no}"


def with_purpose(auth, customer_no: str):
    assert auth.post(file_url(customer_no), {"purpose": "监管检查", "detail": "证监局来函"}).status_code == 303
    return auth


def holds(app) -> list[LegalHold]:
    with app.app_context():
        found = list(db.session.scalars(select(LegalHold).order_by(LegalHold.id)))
        db.session.expunge_all()
        return found


def test_the_file_page_shows_the_term_and_a_hold_is_placed_and_lifted_in_place(app, closed_customer):  # noqa: F811
    customer_no = closed_customer[0]
    archivist = with_purpose(login_as(app, "archivist"), customer_no)
    html = archivist.get(file_url(customer_no)).get_data(as_text=True)
    assert "销户日 2026-06-30，保管至 2046-06-30" in html and 'id="place-hold-form"' in html

    placed = archivist.post(f"{file_url(customer_no)}/hold", {"hold-reason": "（2046）京01民初123号 诉讼保全"},
                            htmx=True)
    assert placed.status_code == 200
    panel = placed.get_data(as_text=True)
    assert panel.lstrip().startswith('<section id="retention-panel"') and "<html" not in panel
    assert "法律保全中：（2046）京01民初123号 诉讼保全" in panel and 'id="lift-hold-form"' in panel
    assert "已设置法律保全" in panel

    lifted = archivist.post(f"{file_url(customer_no)}/hold/lift", {"lift-reason": "案件审结"}, htmx=True)
    assert lifted.status_code == 200
    panel = lifted.get_data(as_text=True)
    assert "已解除法律保全" in panel and 'id="place-hold-form"' in panel and "案件审结" in panel
    [hold] = holds(app)
    assert hold.lifted_at is not None and hold.lift_reason == "案件审结"
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("retention.hold%"))
                                          .where(AuditEvent.object_id == customer_no)))
    assert actions == ["retention.hold_placed", "retention.hold_lifted"]


def test_an_active_customer_shows_that_the_term_starts_at_closure(app):
    archivist = with_purpose(login_as(app, "archivist"), DEMO_CUSTOMER)
    assert "保管期限自销户之日起计算，不少于 20 年" in archivist.get(file_url(DEMO_CUSTOMER)).get_data(as_text=True)


@pytest.mark.parametrize("reason, message", [
    ("", "请填写理由（如法院案号、监管来函文号）"),
    ("案" * 501, "理由不超过 500 字"),
])
def test_a_bad_reason_is_answered_next_to_the_field_and_kept(app, reason, message):
    admin = login_as(app, "admin")
    response = admin.post(f"{file_url(DEMO_CUSTOMER)}/hold", {"hold-reason": reason}, htmx=True)
    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for("hold-reason") == [message]
    if reason:
        assert reason in response.get_data(as_text=True)  # what was typed stays
    assert holds(app) == []


def test_a_double_submit_leaves_one_hold_and_says_so_next_to_the_field(app):
    archivist = login_as(app, "archivist")
    url = f"{file_url(DEMO_CUSTOMER)}/hold"
    assert archivist.post(url, {"hold-reason": "监管调查"}, htmx=True).status_code == 200
    again = archivist.post(url, {"hold-reason": "监管调查"}, htmx=True)
    assert again.status_code == 422
    # The panel now shows the standing hold (and its lift form); the refusal above it.
    body = again.get_data(as_text=True)
    assert 'id="hold-refused"' in body and "该客户已有未解除的法律保全" in body and "法律保全中：监管调查" in body
    assert len(holds(app)) == 1


def test_two_archivists_at_once_leave_one_standing_hold(app):
    add_staff(app, "archivist2", "archivist", full_name="钱档案")
    first, second = login_as(app, "archivist"), login_as(app, "archivist2")
    url = f"{file_url(DEMO_CUSTOMER)}/hold"
    statuses, start = [], threading.Barrier(2)

    def place(auth, reason):
        start.wait()
        statuses.append(auth.post(url, {"hold-reason": reason}, htmx=True).status_code)

    threads = [threading.Thread(target=place, args=(a, r)) for a, r in ((first, "甲案"), (second, "乙案"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 422]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LegalHold)
                                 .where(LegalHold.lifted_at.is_(None))) == 1


def test_lifting_without_a_standing_hold_is_refused_next_to_the_field(app):
    response = login_as(app, "archivist").post(f"{file_url(DEMO_CUSTOMER)}/hold/lift", {"lift-reason": "审结"},
                                               htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="hold-refused"' in body and "该客户没有未解除的法律保全" in body and 'id="place-hold-form"' in body


def test_another_branch_customer_is_not_found_and_other_roles_are_refused(app):
    assert login_as(app, "archivist").post(f"{file_url(SHANGHAI_CUSTOMER)}/hold",
                                           {"hold-reason": "x"}).status_code == 404
    for username in ("clerk", "manager", "reviewer"):
        assert login_as(app, username).post(f"{file_url(DEMO_CUSTOMER)}/hold",
                                            {"hold-reason": "x"}).status_code == 403
    assert holds(app) == []


def test_a_plain_post_without_htmx_gets_a_whole_page(app):
    response = login_as(app, "admin").post(f"{file_url(DEMO_CUSTOMER)}/hold", {"hold-reason": "监管调查"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" in html and "法律保全中：监管调查" in html and f"← 客户档案 {DEMO_CUSTOMER}" in html
