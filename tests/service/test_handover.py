"""Assignment and handover: own customers only, effective dates, bulk departure, reviewer rules, history."""
from datetime import date, timedelta

from sqlalchemy import func, select

from blueprints.managers.models import CustomerAssignment, Handover
from core.extensions import db
from core.models import AuditEvent
from tests.requests.helpers import add_staff, login_as, page_of, staff_id
from tests.service.helpers import DEMO_CUSTOMER, customer_id, make_customers, set_today, token

TODAY = date(2026, 12, 2)


def _request(auth, app, *, from_user="cmanager", customers=(), successors=("cmanager2",), effective=TODAY,
             kind="selected", reason="岗位调整", client_token=None):
    return auth.post("/managers/handovers/new", data={
        "client_token": client_token or token(), "from_staff": staff_id(app, from_user), "kind": kind,
        "customers": [customer_id(app, c) for c in customers], "successors": [staff_id(app, s) for s in successors],
        "effective_date": effective.isoformat(), "reason": reason})


def _handover(app) -> Handover:
    with app.app_context():
        found = db.session.scalar(select(Handover).order_by(Handover.id.desc()))
        db.session.expunge(found)
        return found


def test_customer_managers_and_brokers_see_their_own_customers_only(app):
    other = make_customers(app, 1, manager="cmanager2")[0]
    mine, theirs, broker = login_as(app, "cmanager"), login_as(app, "cmanager2"), login_as(app, "broker")
    assert mine.get(f"/customers/{DEMO_CUSTOMER}").status_code == 200
    assert mine.get(f"/customers/{other}").status_code == 404
    assert theirs.get(f"/customers/{DEMO_CUSTOMER}").status_code == 404
    assert broker.get(f"/customers/{DEMO_CUSTOMER}").status_code == 404
    listing = mine.get("/customers/").get_data(as_text=True)
    assert DEMO_CUSTOMER in listing and other not in listing
    assert other not in mine.get(f"/customers/?q={other[:6]}").get_data(as_text=True)
    # The branch manager still sees the whole branch.
    assert login_as(app, "manager").get(f"/customers/{other}").status_code == 200


def test_handover_takes_effect_on_its_date(app, monkeypatch):
    set_today(monkeypatch, TODAY)
    giver = login_as(app, "cmanager")
    effective = TODAY + timedelta(days=3)
    response = _request(giver, app, customers=[DEMO_CUSTOMER], effective=effective)
    assert response.status_code == 303
    handover = _handover(app)
    assert handover.status == "pending"
    assert giver.post(f"/managers/handovers/{handover.reference}/decide", data={"decision": "approve"}).status_code == 403
    boss = login_as(app, "manager")
    assert boss.post(f"/managers/handovers/{handover.reference}/decide", data={"decision": "approve"}).status_code == 303
    assert _handover(app).status == "approved"
    taker = login_as(app, "cmanager2")
    # The day before: the old manager still serves the customer, the new one cannot see them.
    set_today(monkeypatch, effective - timedelta(days=1))
    assert giver.get(f"/customers/{DEMO_CUSTOMER}").status_code == 200
    assert taker.get(f"/customers/{DEMO_CUSTOMER}").status_code == 404
    # On the date the reverse, with no job run in between.
    set_today(monkeypatch, effective)
    assert giver.get(f"/customers/{DEMO_CUSTOMER}").status_code == 404
    assert taker.get(f"/customers/{DEMO_CUSTOMER}").status_code == 200
    history = boss.get(f"/customers/{DEMO_CUSTOMER}").get_data(as_text=True)
    assert "林客户经理" in history and "陈客户经理" in history
    with app.app_context():
        rows = db.session.execute(select(CustomerAssignment.staff_id, CustomerAssignment.effective_from,
                                         CustomerAssignment.effective_to)
                                  .order_by(CustomerAssignment.id)).all()
        assert rows[-2][1:] == (rows[-2][1], effective) and rows[-1][1:] == (effective, None)
        actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == handover.reference)))
        assert {"handover.submit", "handover.approve"} <= actions


def test_effective_date_before_today_is_refused_next_to_the_field(app, monkeypatch):
    set_today(monkeypatch, TODAY)
    response = _request(login_as(app, "cmanager"), app, customers=[DEMO_CUSTOMER], effective=TODAY - timedelta(days=1))
    assert response.status_code == 422
    assert any("不能早于今天" in m for m in page_of(response).errors_for("effective_date"))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Handover)) == 0


def test_the_reviewer_is_never_the_person_handing_over_or_the_requester(app, monkeypatch):
    set_today(monkeypatch, TODAY)
    boss = login_as(app, "manager")
    # The branch manager asks for it on departure: then another branch manager or HQ must review.
    assert _request(boss, app, customers=[], kind="departure").status_code == 303
    handover = _handover(app)
    response = boss.post(f"/managers/handovers/{handover.reference}/decide", data={"decision": "approve"})
    assert response.status_code == 403 and "不能审核" in response.get_data(as_text=True)
    assert _handover(app).status == "pending"
    assert login_as(app, "admin").post(f"/managers/handovers/{handover.reference}/decide",
                                       data={"decision": "approve"}).status_code == 303
    assert _handover(app).status == "approved"


def test_bulk_departure_hands_every_customer_to_several_successors(app, monkeypatch):
    set_today(monkeypatch, TODAY)
    add_staff(app, "cmanager3", "customer_manager", full_name="周客户经理")
    numbers = make_customers(app, 3)  # plus the demo customer: four in all
    giver = login_as(app, "cmanager")
    assert _request(giver, app, kind="departure", successors=("cmanager2", "cmanager3"), reason="员工离职").status_code == 303
    handover = _handover(app)
    assert len(handover.items) == 4
    assert login_as(app, "manager").post(f"/managers/handovers/{handover.reference}/decide",
                                         data={"decision": "approve"}).status_code == 303
    with app.app_context():
        from blueprints.managers import services
        counts = services.counts_by_manager(None)
    assert counts.get(staff_id(app, "cmanager2")) == 2 and counts.get(staff_id(app, "cmanager3")) == 2
    assert staff_id(app, "cmanager") not in counts
    for number in numbers + [DEMO_CUSTOMER]:
        assert giver.get(f"/customers/{number}").status_code == 404
    report = app.test_cli_runner().invoke(args=["managers", "report", "--date", TODAY.isoformat()])
    assert handover.reference in report.output and "周客户经理  2 户" in report.output


def test_a_customer_in_a_pending_handover_cannot_be_handed_over_twice_and_a_double_submit_is_one(app, monkeypatch):
    set_today(monkeypatch, TODAY)
    giver = login_as(app, "cmanager")
    same = token()
    assert _request(giver, app, customers=[DEMO_CUSTOMER], client_token=same).status_code == 303
    assert _request(giver, app, customers=[DEMO_CUSTOMER], client_token=same).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Handover)) == 1
    again = _request(giver, app, customers=[DEMO_CUSTOMER])
    assert again.status_code == 409 and "已在移交申请" in again.get_data(as_text=True)


def test_a_manager_cannot_hand_over_another_managers_customers(app, monkeypatch):
    set_today(monkeypatch, TODAY)
    other = make_customers(app, 1, manager="cmanager2")[0]
    response = _request(login_as(app, "cmanager"), app, from_user="cmanager", customers=[other])
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Handover)) == 0


def test_the_branch_manager_assigns_an_unassigned_customer_once(app):
    number = make_customers(app, 1, manager=None)[0]
    boss = login_as(app, "manager")
    assert number in boss.get("/managers/").get_data(as_text=True)
    response = boss.post(f"/managers/assign/{number}", data={"staff": staff_id(app, "broker"), "reason": ""})
    assert response.status_code == 422 and page_of(response).errors_for("reason")
    assert boss.post(f"/managers/assign/{number}", data={"staff": staff_id(app, "broker"),
                                                          "reason": "新客户首次分配"}).status_code == 303
    assert login_as(app, "broker").get(f"/customers/{number}").status_code == 200
    again = boss.post(f"/managers/assign/{number}", data={"staff": staff_id(app, "cmanager"), "reason": "再分配"})
    assert again.status_code == 409
    assert login_as(app, "clerk").post(f"/managers/assign/{number}", data={}).status_code == 403


def test_handovers_stay_in_their_branch(app, monkeypatch):
    set_today(monkeypatch, TODAY)
    _request(login_as(app, "cmanager"), app, customers=[DEMO_CUSTOMER])
    handover = _handover(app)
    add_staff(app, "manager_sh", "branch_manager", branch_code="0201", full_name="上海经理")
    outsider = login_as(app, "manager_sh")
    assert outsider.get(f"/managers/handovers/{handover.reference}").status_code == 404
    assert outsider.post(f"/managers/handovers/{handover.reference}/decide", data={"decision": "approve"}).status_code == 404
    assert login_as(app, "broker").get(f"/managers/handovers/{handover.reference}").status_code == 404
