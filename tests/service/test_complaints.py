"""Service records and complaints through the app: 12386 case numbers, deadlines, escalation, extension, 回避,
首办负责制, feedback at closing, files, reminders, permissions and branch scope."""
from datetime import date, timedelta

from sqlalchemy import func, select

from blueprints.service.models import Complaint, ServiceEvent, ServiceRecord
from core.extensions import db
from core.storage import LocalStore
from tests.requests.helpers import add_staff, login_as, page_of, staff_id
from tests.service.helpers import DEMO_CUSTOMER, set_today, token

FRIDAY = date(2026, 12, 4)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _complaint(auth, app, **overrides):
    data = {"client_token": token(), "kind": "complaint", "subject": "佣金收取有异议", "content": "客户称佣金高于约定。",
            "channel": "csrc_12386", "case_no": "12386-2026-000123", "category": "brokerage", "urgency": "general",
            "received_on": FRIDAY.isoformat(), "complained_staff": 0, "handler": 0}
    data.update(overrides)
    return auth.post(f"/service/new/{DEMO_CUSTOMER}", data=data)


def _latest(app) -> tuple[ServiceRecord, Complaint | None]:
    with app.app_context():
        record = db.session.scalar(select(ServiceRecord).order_by(ServiceRecord.id.desc()))
        complaint = record.complaint
        db.session.expunge_all()
        return record, complaint


def test_a_12386_complaint_needs_its_case_number(app, monkeypatch):
    set_today(monkeypatch, FRIDAY)
    response = _complaint(login_as(app, "manager"), app, case_no="", subject="保留的事由")
    assert response.status_code == 422
    assert page_of(response).errors_for("case_no") == ["12386转办的投诉须填写转办编号"]
    assert page_of(response).value("subject") == "保留的事由"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 0


def test_deadlines_count_working_days_and_configured_holidays(app, monkeypatch):
    set_today(monkeypatch, FRIDAY)
    boss = login_as(app, "manager")
    assert _complaint(boss, app, urgency="urgent").status_code == 303
    _record, complaint = _latest(app)
    assert complaint.first_contact_due == date(2026, 12, 7)  # Friday → Monday
    assert complaint.resolution_due == FRIDAY + timedelta(days=5)
    monkeypatch.setitem(app.config, "SERVICE_HOLIDAYS", "2026-12-07")
    assert _complaint(boss, app).status_code == 303
    _record, complaint = _latest(app)
    assert complaint.first_contact_due == date(2026, 12, 8) and complaint.resolution_due == FRIDAY + timedelta(days=15)


def test_the_branch_manager_assigns_a_handler_who_is_never_the_staff_complained_about(app, monkeypatch):
    set_today(monkeypatch, FRIDAY)
    boss = login_as(app, "manager")
    assert _complaint(boss, app, complained_staff=staff_id(app, "cmanager")).status_code == 303
    record, complaint = _latest(app)
    assert complaint.handler_id is None and record.status == "open"
    refused = boss.post(f"/service/{record.reference}/assign", data={"handler": staff_id(app, "cmanager")})
    assert refused.status_code == 422
    assert page_of(refused).errors_for("handler") == ["被投诉人员须回避，不能担任本投诉的处理人"]
    assert boss.post(f"/service/{record.reference}/assign", data={"handler": staff_id(app, "cmanager2")}).status_code == 303
    # 首办负责制: the first handler keeps it.
    again = boss.post(f"/service/{record.reference}/assign", data={"handler": staff_id(app, "clerk")})
    assert again.status_code == 409
    record, complaint = _latest(app)
    assert complaint.handler_id == staff_id(app, "cmanager2") and record.owner_id == complaint.handler_id
    # A complained-about staff member recording the complaint is not made its handler.
    assert _complaint(login_as(app, "cmanager"), app, complained_staff=staff_id(app, "cmanager")).status_code == 303
    assert _latest(app)[1].handler_id is None


def test_overdue_complaints_escalate_once_on_read_and_by_the_command(app, monkeypatch):
    set_today(monkeypatch, FRIDAY)
    assert _complaint(login_as(app, "cmanager"), app).status_code == 303  # the recorder is its first handler
    record, complaint = _latest(app)
    assert complaint.handler_id == staff_id(app, "cmanager")
    set_today(monkeypatch, complaint.first_contact_due)
    runner = app.test_cli_runner()
    assert "0 笔" in runner.invoke(args=["service", "escalate"]).output
    set_today(monkeypatch, complaint.first_contact_due + timedelta(days=1))
    assert record.reference in runner.invoke(args=["service", "escalate"]).output
    assert "0 笔" in runner.invoke(args=["service", "escalate"]).output
    boss = login_as(app, "manager")
    page = boss.get(f"/service/{record.reference}").get_data(as_text=True)
    assert "首次联系客户已超期" in page and "升级至营业部负责人" in page
    assert record.reference in boss.get("/service/?overdue=1").get_data(as_text=True)
    home = boss.get("/").get_data(as_text=True)
    assert 'id="reminder-complaints_overdue"' in home and record.reference in home
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ServiceEvent)
                                 .where(ServiceEvent.action == "escalate")) == 1


def test_escalation_on_read_needs_no_command(app, monkeypatch):
    set_today(monkeypatch, FRIDAY)
    _complaint(login_as(app, "cmanager"), app)
    record, complaint = _latest(app)
    set_today(monkeypatch, complaint.resolution_due + timedelta(days=1))
    boss = login_as(app, "manager")
    boss.get("/service/")
    boss.get("/service/")
    with app.app_context():
        assert db.session.scalar(select(Complaint.escalated_at).where(Complaint.id == complaint.id)) is not None
        assert db.session.scalar(select(func.count()).select_from(ServiceEvent)
                                 .where(ServiceEvent.action == "escalate")) == 1


def test_an_extension_needs_a_reason_and_is_granted_once(app, monkeypatch):
    set_today(monkeypatch, FRIDAY)
    handler = login_as(app, "cmanager")
    _complaint(handler, app)
    record, complaint = _latest(app)
    empty = handler.post(f"/service/{record.reference}/extend", data={"reason": " "})
    assert empty.status_code == 422 and page_of(empty).errors_for("reason")
    assert handler.post(f"/service/{record.reference}/extend", data={"reason": "需调取交易所成交记录"}).status_code == 303
    assert _latest(app)[1].resolution_due == complaint.resolution_due + timedelta(days=15)
    second = handler.post(f"/service/{record.reference}/extend", data={"reason": "还要再等"})
    assert second.status_code == 409 and "上限" in second.get_data(as_text=True)
    assert "需调取交易所成交记录" in handler.get(f"/service/{record.reference}").get_data(as_text=True)


def test_closing_a_complaint_records_the_customers_feedback(app, monkeypatch):
    set_today(monkeypatch, FRIDAY)
    handler = login_as(app, "cmanager")
    _complaint(handler, app)
    record, _ = _latest(app)
    no_feedback = handler.post(f"/service/{record.reference}/close", data={"outcome": "已核实并退还差额"})
    assert no_feedback.status_code == 422 and page_of(no_feedback).errors_for("feedback")
    unhappy = handler.post(f"/service/{record.reference}/close", data={"outcome": "已核实", "feedback": "not_satisfied"})
    assert unhappy.status_code == 422 and page_of(unhappy).errors_for("feedback_text")
    # Only the first handler closes it.
    assert login_as(app, "manager").post(f"/service/{record.reference}/close",
                                         data={"outcome": "x", "feedback": "satisfied"}).status_code == 403
    assert handler.post(f"/service/{record.reference}/close",
                        data={"outcome": "已核实并退还差额", "feedback": "satisfied", "feedback_text": "处理及时"}).status_code == 303
    record, complaint = _latest(app)
    assert record.status == "closed" and complaint.feedback == "satisfied" and complaint.feedback_text == "处理及时"
    assert complaint.first_contacted_at is not None


def test_complaint_files_are_kept_checked_by_content_and_read_with_an_audit(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path)))
    set_today(monkeypatch, FRIDAY)
    boss = login_as(app, "manager")
    _complaint(boss, app)
    record, _ = _latest(app)
    from io import BytesIO
    bad = boss.post(f"/service/{record.reference}/files", data={"file": (BytesIO(b"hello"), "letter.pdf")},
                    content_type="multipart/form-data")
    assert bad.status_code == 422 and page_of(bad).errors_for("file")
    good = boss.post(f"/service/{record.reference}/files", data={"file": (BytesIO(PDF), "12386转办单.pdf")},
                     content_type="multipart/form-data")
    assert good.status_code == 303
    detail = boss.get(f"/service/{record.reference}").get_data(as_text=True)
    assert "12386转办单.pdf" in detail
    from blueprints.service.models import ComplaintFile
    with app.app_context():
        file_id = db.session.scalar(select(ComplaintFile.id))
    download = boss.get(f"/service/{record.reference}/files/{file_id}")
    assert download.status_code == 200 and download.data == PDF


def test_follow_ups_show_as_reminders_for_their_owner(app, monkeypatch):
    set_today(monkeypatch, FRIDAY)
    owner = login_as(app, "cmanager")
    response = owner.post(f"/service/new/{DEMO_CUSTOMER}", data={
        "client_token": token(), "kind": "consultation", "subject": "咨询融资融券开通条件", "content": "客户询问开通条件。",
        "follow_up_on": (FRIDAY + timedelta(days=1)).isoformat(), "urgency": "general"})
    assert response.status_code == 303
    record, _ = _latest(app)
    assert record.status == "open" and record.owner_id == staff_id(app, "cmanager")
    assert record.reference in owner.get("/").get_data(as_text=True)
    assert record.reference not in login_as(app, "cmanager2").get("/").get_data(as_text=True)
    assert record.reference in owner.get(f"/customers/{DEMO_CUSTOMER}").get_data(as_text=True)
    assert record.reference in owner.get("/service/").get_data(as_text=True)
    past = owner.post(f"/service/{record.reference}/follow-up", data={"note": "已电话联系", "next_date": "2026-12-01"})
    assert past.status_code == 422 and page_of(past).errors_for("next_date")
    assert owner.post(f"/service/{record.reference}/follow-up", data={"note": "已电话联系"}).status_code == 303
    assert record.reference not in owner.get("/").get_data(as_text=True)


def test_a_call_recorded_with_its_outcome_is_closed_at_once_and_a_double_submit_records_one(app):
    clerk = login_as(app, "clerk")
    data = {"client_token": token(), "kind": "call", "subject": "回电", "content": "客户来电询问密码重置。",
            "outcome": "已告知须本人持证件到柜台办理", "urgency": "general"}
    assert clerk.post(f"/service/new/{DEMO_CUSTOMER}", data=data).status_code == 303
    assert clerk.post(f"/service/new/{DEMO_CUSTOMER}", data=data).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 1
    assert _latest(app)[0].status == "closed"


def test_complaints_are_seen_by_the_branch_manager_handler_and_recorder_only(app, monkeypatch):
    set_today(monkeypatch, FRIDAY)
    boss = login_as(app, "manager")
    _complaint(boss, app, complained_staff=staff_id(app, "clerk"))
    record, _ = _latest(app)
    assert boss.get(f"/service/{record.reference}").status_code == 200
    assert login_as(app, "clerk").get(f"/service/{record.reference}").status_code == 404
    assert login_as(app, "cmanager").get(f"/service/{record.reference}").status_code == 404
    add_staff(app, "manager_sh", "branch_manager", branch_code="0201", full_name="上海经理")
    outsider = login_as(app, "manager_sh")
    assert outsider.get(f"/service/{record.reference}").status_code == 404
    assert outsider.post(f"/service/{record.reference}/assign", data={"handler": staff_id(app, "clerk_sh")}).status_code == 404
    assert login_as(app, "clerk").post(f"/service/{record.reference}/assign", data={"handler": 1}).status_code == 403
    assert login_as(app, "clerk_sh").get(f"/service/new/{DEMO_CUSTOMER}").status_code == 404
    assert login_as(app, "archivist").get("/service/").status_code == 403
    assert login_as(app, "admin").get(f"/service/{record.reference}").status_code == 200


def test_the_branch_manager_moves_a_complaint_whose_handler_cannot_carry_it_with_a_reason(app, monkeypatch):
    set_today(monkeypatch, FRIDAY)
    boss = login_as(app, "manager")
    assert _complaint(boss, app, complained_staff=staff_id(app, "cmanager")).status_code == 303
    record, _complaint_row = _latest(app)
    url = f"/service/{record.reference}/reassign"
    # Nothing to move before a first handler exists.
    assert boss.post(url, data={"handler": staff_id(app, "clerk"), "reason": "调岗"}).status_code == 409
    assert boss.post(f"/service/{record.reference}/assign", data={"handler": staff_id(app, "cmanager2")}).status_code == 303
    for data, field, message in (
            ({"handler": staff_id(app, "clerk"), "reason": " "}, "reason", "请填写改派原因"),
            ({"handler": staff_id(app, "cmanager"), "reason": "调岗"}, "handler", "回避"),
            ({"handler": staff_id(app, "cmanager2"), "reason": "调岗"}, "handler", "相同")):
        refused = boss.post(url, data=data)
        assert refused.status_code == 422, data
        assert any(message in e for e in page_of(refused).errors_for(field)), page_of(refused).all_errors()
    # Only the branch manager moves it; the handler cannot hand it on.
    assert login_as(app, "cmanager2").post(url, data={"handler": staff_id(app, "clerk"), "reason": "忙"}).status_code == 403
    assert boss.post(url, data={"handler": staff_id(app, "clerk"), "reason": "原处理人调往其他营业部"}).status_code == 303
    record, complaint = _latest(app)
    assert complaint.handler_id == staff_id(app, "clerk") == record.owner_id
    page = boss.get(f"/service/{record.reference}").get_data(as_text=True)
    assert "改派处理人" in page and "原处理人调往其他营业部" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ServiceEvent)
                                 .where(ServiceEvent.action == "reassign")) == 1


def test_complaint_categories_come_from_their_dictionary(app, monkeypatch):
    """HQ renames one line and disables another: new complaints are offered the enabled ones only, an old
    complaint keeps its line's (new) name, and the dashboard counts by the dictionary's labels."""
    from blueprints.dictionaries.models import DictionaryEntry
    from tests.reminders.test_dictionaries import disable, entry_id

    set_today(monkeypatch, FRIDAY)
    manager = login_as(app, "manager")
    assert _complaint(manager, app, category="options").status_code == 303
    old, _complaint_row = _latest(app)
    admin = login_as(app, "admin")
    options_id = entry_id(app, "complaint_category", "options")
    renamed = admin.post(f"/dictionaries/entry/{options_id}", {"label": "股票期权", "position": "40", "enabled": "y"})
    assert renamed.status_code == 303
    assert disable(admin, app, "margin", kind="complaint_category").status_code == 303
    with app.app_context():
        assert db.session.get(DictionaryEntry, entry_id(app, "complaint_category", "margin")).enabled is False

    form = manager.get(f"/service/new/{DEMO_CUSTOMER}?kind=complaint").get_data(as_text=True)
    assert 'value="options"' in form and "股票期权" in form and 'value="margin"' not in form
    refused = _complaint(manager, app, category="margin", subject="保留的事由")
    assert refused.status_code == 422 and page_of(refused).errors_for("category")
    assert page_of(refused).value("subject") == "保留的事由"
    assert "股票期权" in manager.get(f"/service/{old.reference}").get_data(as_text=True)
    dashboard = login_as(app, "manager").get("/statistics/").get_data(as_text=True)
    assert "股票期权" in dashboard
