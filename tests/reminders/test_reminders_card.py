"""One reminders card on the home page: the customers' reminders, service follow-ups, complaint deadlines and
handovers to review, the most urgent group first, each row linking where it is handled."""
from datetime import timedelta

from sqlalchemy import select

from blueprints.managers.models import CustomerAssignment
from core.extensions import db
from tests.reminders.support import customer_with
from tests.requests.helpers import login_as, staff_id
from tests.service.helpers import DEMO_CUSTOMER, customer_id, set_today, token


def _demo_assigned_on(app):
    with app.app_context():
        return db.session.scalar(select(CustomerAssignment.effective_from)
                                 .where(CustomerAssignment.customer_id == customer_id(app, DEMO_CUSTOMER)))


def _consultation(auth, follow_up_on):
    return auth.post(f"/service/new/{DEMO_CUSTOMER}", data={
        "client_token": token(), "kind": "consultation", "subject": "咨询融资融券开通条件", "content": "客户询问开通条件。",
        "follow_up_on": follow_up_on.isoformat(), "urgency": "general"})


def _complaint(auth, received_on):
    return auth.post(f"/service/new/{DEMO_CUSTOMER}", data={
        "client_token": token(), "kind": "complaint", "subject": "佣金收取有异议", "content": "客户称佣金高于约定。",
        "channel": "phone", "case_no": "", "category": "brokerage", "urgency": "urgent",
        "received_on": received_on.isoformat(), "complained_staff": 0, "handler": 0})


def _reference(app, subject):
    from blueprints.service.models import ServiceRecord
    with app.app_context():
        return db.session.scalar(select(ServiceRecord.reference).where(ServiceRecord.subject == subject)
                                 .order_by(ServiceRecord.id.desc()))


def test_follow_ups_are_in_the_one_card_linking_the_record_and_overdue_ones_come_first(app, monkeypatch):
    today = _demo_assigned_on(app)
    set_today(monkeypatch, today)
    owner = login_as(app, "cmanager")
    assert _consultation(owner, today + timedelta(days=1)).status_code == 303
    reference = _reference(app, "咨询融资融券开通条件")
    home = owner.get("/").get_data(as_text=True)
    assert home.count('class="card reminders"') == 1 and 'id="service-reminders"' not in home
    card = home.split('id="reminders"')[1]
    assert 'id="reminder-follow_ups_due" data-count="1"' in card
    assert f'href="/service/{reference}"' in card and "张**" in card and "张建国" not in card
    # The record's follow-up date passes: it moves to the overdue group, shown before the warnings.
    set_today(monkeypatch, today + timedelta(days=3))
    card = owner.get("/").get_data(as_text=True).split('id="reminders"')[1]
    assert 'id="reminder-follow_ups_overdue" data-count="1"' in card and 'id="reminder-follow_ups_due"' not in card
    assert "跟进已过期 2 天" in card
    listing = owner.get("/reminders/follow_ups_overdue").get_data(as_text=True)
    assert "共 1 项" in listing and f'href="/service/{reference}"' in listing and "去办理" in listing


def test_complaint_deadlines_group_by_urgency_for_the_branch_manager(app, monkeypatch):
    today = _demo_assigned_on(app)
    set_today(monkeypatch, today)
    boss = login_as(app, "manager")
    assert _complaint(boss, today).status_code == 303
    reference = _reference(app, "佣金收取有异议")
    card = boss.get("/").get_data(as_text=True).split('id="reminders"')[1]
    assert 'id="reminder-complaints_due" data-count="1"' in card and "待指定处理人" in card
    assert f'href="/service/{reference}"' in card
    # Past the resolution deadline: overdue, escalated on this read, and shown before the other groups.
    set_today(monkeypatch, today + timedelta(days=30))
    customer_with(app, 1, valid_to=today + timedelta(days=40))
    card = boss.get("/").get_data(as_text=True).split('id="reminders"')[1]
    assert 'id="reminder-complaints_overdue" data-count="1"' in card
    assert card.index("reminder-complaints_overdue") < card.index("reminder-id_within_30")
    # The staff member who neither handles nor owns it is not reminded of it.
    assert reference not in login_as(app, "cmanager2").get("/").get_data(as_text=True)


def test_a_handover_to_review_is_a_reminder_of_the_branch_manager(app, monkeypatch):
    today = _demo_assigned_on(app)
    set_today(monkeypatch, today)
    giver = login_as(app, "cmanager")
    response = giver.post("/managers/handovers/new", data={
        "client_token": token(), "from_staff": staff_id(app, "cmanager"), "kind": "selected",
        "customers": [customer_id(app, DEMO_CUSTOMER)], "successors": [staff_id(app, "cmanager2")],
        "effective_date": (today + timedelta(days=2)).isoformat(), "reason": "岗位调整"})
    assert response.status_code == 303
    reference = response.headers["Location"].rstrip("/").split("/")[-1]
    card = login_as(app, "manager").get("/").get_data(as_text=True).split('id="reminders"')[1]
    assert 'id="reminder-handovers_to_review" data-count="1"' in card
    assert f'href="/managers/handovers/{reference}"' in card
    # The one handing over cannot review it: no reminder for them.
    assert 'id="reminder-handovers_to_review"' not in giver.get("/").get_data(as_text=True)
