"""第十七条 facts edited with a reason and kept in their history; a staff member's own password change."""
from datetime import date

from sqlalchemy import select

from blueprints.home.demo import DEMO_PASSWORD
from blueprints.opening import witness as witness_rules
from blueprints.opening.services import witness_facts
from blueprints.staff_admin.models import StaffFactChange
from core.extensions import db
from tests.requests.helpers import login_as, page_of
from tests.staff_admin.helpers import audits, staff

NEW_PASSWORD = "Lq7#vR2m-Spring"


def _facts(app, username, **changes):
    target = staff(app, username)
    data = {"version": target.admin_version, "qualification_no": target.qualification_no or "",
            "qualification_obtained_on": target.qualification_obtained_on or "",
            "regular_employee_since": target.regular_employee_since or "",
            "witness_trained_on": target.witness_trained_on or "", "reason": "年度资格复核"}
    if target.is_regular_employee:
        data["is_regular_employee"] = "y"
    if target.is_marketing:
        data["is_marketing"] = "y"
    data.update(changes)
    return target, {k: v for k, v in data.items() if v is not None}


def test_withdrawing_a_witness_training_date_needs_a_reason_and_stops_them_witnessing(app):
    admin = login_as(app, "admin")
    target, data = _facts(app, "witness", witness_trained_on="", reason="")
    refused = admin.post(f"/staff-admin/{target.id}/facts", data=data)
    assert refused.status_code == 422
    assert page_of(refused).errors_for("reason") == ["请填写修改原因"]
    assert staff(app, "witness").witness_trained_on == date(2025, 3, 1)

    data["reason"] = "培训证书过期，待重新培训"
    assert admin.post(f"/staff-admin/{target.id}/facts", data=data).status_code == 303
    with app.app_context():
        [change] = db.session.scalars(select(StaffFactChange).where(StaffFactChange.staff_id == target.id)).all()
        assert (change.field, change.old_value, change.new_value) == ("witness_trained_on", "2025-03-01", None)
        assert change.reason == "培训证书过期，待重新培训"
    problems = witness_rules.witness_problems(witness_facts(staff(app, "witness")), date(2026, 12, 4))
    assert any("尚未通过开户见证培训" in p for p in problems)
    [event] = audits(app, "staff.facts_update")
    assert event.detail == {"fields": ["witness_trained_on"]}  # field names, never the values


def test_registering_a_qualification_needs_its_date_and_a_date_in_the_future_is_refused(app):
    admin = login_as(app, "admin")
    target, data = _facts(app, "reviewer", qualification_no="S0101990099")
    response = admin.post(f"/staff-admin/{target.id}/facts", data=data)
    assert response.status_code == 422
    assert page_of(response).errors_for("qualification_obtained_on") == ["登记从业资格时须填写取得日期"]
    assert page_of(response).value("qualification_no") == "S0101990099"
    data["qualification_obtained_on"] = "2999-01-01"
    assert page_of(admin.post(f"/staff-admin/{target.id}/facts", data=data)).errors_for(
        "qualification_obtained_on") == ["日期不能晚于今天"]
    data["qualification_obtained_on"] = "2020-05-06"
    assert admin.post(f"/staff-admin/{target.id}/facts", data=data).status_code == 303
    saved = staff(app, "reviewer")
    assert (saved.qualification_no, saved.qualification_obtained_on) == ("S0101990099", date(2020, 5, 6))


def test_marking_a_witness_as_marketing_staff_makes_the_witness_rules_refuse_them(app):
    admin = login_as(app, "admin")
    target, data = _facts(app, "witness2", is_marketing="y", reason="调入营销团队")
    assert admin.post(f"/staff-admin/{target.id}/facts", data=data).status_code == 303
    problems = witness_rules.witness_problems(witness_facts(staff(app, "witness2")), date(2026, 12, 4))
    assert any("营销人员" in p for p in problems)


def test_a_branch_manager_sees_the_facts_without_the_qualification_number(app):
    html = login_as(app, "manager").get(f"/staff-admin/{staff(app, 'witness').id}").get_data(as_text=True)
    assert "已登记" in html and "S0101200002" not in html and 'id="facts-form"' not in html


def test_changing_ones_password_needs_the_current_one_and_ends_the_other_sessions(app):
    other = login_as(app, "clerk")
    mine = login_as(app, "clerk")
    wrong = mine.post("/staff-admin/password", data={"current_password": "nope-nope", "new_password": NEW_PASSWORD,
                                                     "confirm_password": NEW_PASSWORD})
    assert wrong.status_code == 422 and page_of(wrong).errors_for("current_password")
    mismatch = mine.post("/staff-admin/password", data={"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD,
                                                        "confirm_password": NEW_PASSWORD + "x"})
    assert page_of(mismatch).errors_for("confirm_password") == ["两次输入的新密码不一致"]
    own_name = mine.post("/staff-admin/password", data={"current_password": DEMO_PASSWORD, "new_password": "clerk-2026-ok",
                                                        "confirm_password": "clerk-2026-ok"})
    assert page_of(own_name).errors_for("new_password") == ["密码不能包含用户名"]
    assert mine.post("/staff-admin/password", data={"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD,
                                                    "confirm_password": NEW_PASSWORD}).status_code == 303
    assert mine.get("/opening/").status_code == 200
    assert other.get("/opening/").status_code == 302
    assert login_as(app, "clerk", NEW_PASSWORD).get("/opening/").status_code == 200
    assert [e.detail["reason"] for e in audits(app, "auth.sessions_ended")] == ["password_change"]
    assert len(audits(app, "staff.password_changed")) == 1


def test_the_password_page_opens_for_every_role(app):
    for username in ("clerk", "marketing", "broker", "admin", "manager", "archivist"):
        assert login_as(app, username).get("/staff-admin/password").status_code == 200, username
