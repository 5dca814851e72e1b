"""HQ's staff administration through the test client: create, edit with re-authentication, disable, reset."""
import pytest

from blueprints.home.demo import DEMO_PASSWORD
from tests.requests.helpers import login_as, page_of
from tests.staff_admin.helpers import audits, branch_id, fresh_login, staff, temporary_password_in, version_of

NEW_PASSWORD = "Lq7#vR2m-Spring"


def _create(admin, username="newclerk", role="clerk", branch="0101", app=None):
    return admin.post("/staff-admin/new", data={"username": username, "full_name": "许新人", "role": role,
                                                "branch_id": branch_id(app, branch)})


# --- who may come here ------------------------------------------------------------------------

@pytest.mark.parametrize("username", ["clerk", "reviewer", "witness", "archivist", "cmanager"])
def test_staff_other_than_hq_and_branch_managers_are_refused(app, username):
    auth = login_as(app, username)
    assert auth.get("/staff-admin/").status_code == 403
    assert auth.post("/staff-admin/new", data={"username": "x1", "full_name": "x", "role": "clerk",
                                               "branch_id": branch_id(app, "0101")}).status_code == 403
    assert staff(app, "x1") is None


def test_a_branch_manager_sees_only_their_branch_read_only(app):
    manager = login_as(app, "manager")
    listing = manager.get("/staff-admin/").get_data(as_text=True)
    assert "clerk_sh" not in listing and "王柜员" in listing
    assert manager.get(f"/staff-admin/{staff(app, 'clerk_sh').id}").status_code == 404
    own = manager.get(f"/staff-admin/{staff(app, 'clerk').id}").get_data(as_text=True)
    assert 'id="edit-staff-form"' not in own and 'id="disable-staff"' not in own
    assert manager.post(f"/staff-admin/{staff(app, 'clerk').id}/disable",
                        data={"version": version_of(app, "clerk")}).status_code == 403
    assert staff(app, "clerk").is_enabled


def test_hq_lists_every_branch_and_filters_by_name_role_and_state(app):
    admin = login_as(app, "admin")
    everyone = admin.get("/staff-admin/").get_data(as_text=True)
    assert "clerk_sh" in everyone and "王柜员" in everyone
    by_name = admin.get("/staff-admin/?q=冯").get_data(as_text=True)
    assert "clerk_sh" in by_name and "王柜员" not in by_name
    by_branch = admin.get(f"/staff-admin/?branch={branch_id(app, '0201')}").get_data(as_text=True)
    assert "clerk_sh" in by_branch and 'id="staff-clerk"' not in by_branch
    by_role = admin.get("/staff-admin/?role=witness").get_data(as_text=True)
    assert 'id="staff-witness2"' in by_role and 'id="staff-clerk"' not in by_role
    assert 'id="staff-clerk"' not in admin.get("/staff-admin/?enabled=0").get_data(as_text=True)


# --- create and first login -------------------------------------------------------------------

def test_hq_creates_a_staff_member_who_must_change_the_temporary_password_first(app):
    admin = login_as(app, "admin")
    created = _create(admin, app=app)
    assert created.status_code == 200
    temporary = temporary_password_in(created)
    made = staff(app, "newclerk")
    assert made.must_change_password and made.role == "clerk" and temporary not in made.password_hash
    # Shown once: the staff member's page does not show it again.
    assert temporary not in admin.get(f"/staff-admin/{made.id}").get_data(as_text=True)
    [event] = audits(app, "staff.create")
    assert temporary not in str(event.detail)

    newcomer = fresh_login(app, "newclerk", temporary)
    assert 'id="password-form"' in newcomer.landing.get_data(as_text=True)
    assert newcomer.get("/opening/").status_code == 302
    assert newcomer.get("/opening/").headers["Location"].endswith("/staff-admin/password")
    assert newcomer.post("/opening/new", data={}).status_code == 403

    weak = newcomer.post("/staff-admin/password", data={"current_password": temporary, "new_password": "password123",
                                                        "confirm_password": "password123"})
    assert weak.status_code == 422
    assert page_of(weak).errors_for("new_password") == ["该密码过于常见，容易被猜中，请换一个"]
    done = newcomer.post("/staff-admin/password", data={"current_password": temporary, "new_password": NEW_PASSWORD,
                                                        "confirm_password": NEW_PASSWORD})
    assert done.status_code == 303
    assert newcomer.get("/opening/").status_code == 200  # the same session goes on
    assert not staff(app, "newclerk").must_change_password
    assert fresh_login(app, "newclerk", NEW_PASSWORD).landing.request.path == "/"


@pytest.mark.parametrize("data, field, message", [
    ({"username": "a", "full_name": "许", "role": "clerk"}, "username", "用户名为2–32位字母、数字、点、下划线或连字符"),
    ({"username": "CLERK", "full_name": "许", "role": "clerk"}, "username", "用户名 CLERK 已被使用（含已停用的用户）"),
    ({"username": "newone", "full_name": "", "role": "clerk"}, "full_name", "请填写姓名"),
    ({"username": "newone", "full_name": "许", "role": ""}, "role", "请选择岗位"),
    ({"username": "newone", "full_name": "许", "role": "hq_admin"}, "branch_id", "总部管理员只能属于总部"),
])
def test_bad_new_staff_input_is_refused_next_to_the_field_keeping_what_was_typed(app, data, field, message):
    admin = login_as(app, "admin")
    response = admin.post("/staff-admin/new", data=dict(data, branch_id=branch_id(app, "0101")))
    assert response.status_code == 422
    assert message in page_of(response).errors_for(field)
    if data["full_name"]:
        assert page_of(response).value("full_name") == data["full_name"]
    assert staff(app, "newone") is None


# --- role change with re-authentication --------------------------------------------------------

def _edit(admin, app, username, role, password=None, branch="0101", full_name=None):
    target = staff(app, username)
    data = {"full_name": full_name or target.full_name, "role": role, "branch_id": branch_id(app, branch),
            "version": target.admin_version}
    if password is not None:
        data["admin_password"] = password
    return admin.post(f"/staff-admin/{target.id}/edit", data=data)


def test_a_role_change_needs_the_administrators_own_password_again(app):
    admin = login_as(app, "admin")
    missing = _edit(admin, app, "clerk", "reviewer")
    assert missing.status_code == 422
    assert page_of(missing).errors_for("admin_password") == ["修改岗位或营业部须再次输入您本人的登录密码"]
    wrong = _edit(admin, app, "clerk", "reviewer", password="not-my-password")
    assert wrong.status_code == 422
    assert any("用户名或密码错误" in m for m in page_of(wrong).errors_for("admin_password"))
    assert staff(app, "admin").failed_logins == 1  # the failure counts toward the lockout
    assert staff(app, "clerk").role == "clerk"


def test_a_role_change_with_the_password_ends_the_staff_members_sessions(app):
    clerk = login_as(app, "clerk")
    admin = login_as(app, "admin")
    assert _edit(admin, app, "clerk", "reviewer", password=DEMO_PASSWORD).status_code == 303
    assert staff(app, "clerk").role == "reviewer"
    assert clerk.get("/opening/").status_code == 302  # back to the login page
    [event] = [e for e in audits(app, "staff.update")]
    assert event.detail["fields"] == ["role"] and event.detail["role"] == ["clerk", "reviewer"]
    assert [e.detail["purpose"] for e in audits(app, "auth.verify")] == ["staff_role_change"]
    assert [e.detail["reason"] for e in audits(app, "auth.sessions_ended")] == ["role_change"]


def test_a_name_change_needs_no_password_and_keeps_the_session(app):
    clerk = login_as(app, "clerk")
    admin = login_as(app, "admin")
    assert _edit(admin, app, "clerk", "clerk", full_name="王大柜").status_code == 303
    assert staff(app, "clerk").full_name == "王大柜"
    assert clerk.get("/opening/").status_code == 200


def test_the_same_edit_posted_twice_is_refused_the_second_time(app):
    admin = login_as(app, "admin")
    target = staff(app, "clerk")
    data = {"full_name": "王二柜", "role": "clerk", "branch_id": target.branch_id, "version": target.admin_version}
    assert admin.post(f"/staff-admin/{target.id}/edit", data=data).status_code == 303
    assert admin.post(f"/staff-admin/{target.id}/edit", data=dict(data, full_name="王三柜")).status_code == 409
    assert staff(app, "clerk").full_name == "王二柜"


def test_an_administrator_cannot_change_their_own_role(app):
    admin = login_as(app, "admin")
    response = _edit(admin, app, "admin", "branch_manager", password=DEMO_PASSWORD, branch="0000")
    assert response.status_code == 403
    assert staff(app, "admin").role == "hq_admin"


# --- disable, end sessions, reset ---------------------------------------------------------------

def test_disabling_ends_the_open_session_and_enabling_lets_them_back(app):
    clerk = login_as(app, "clerk")
    admin = login_as(app, "admin")
    target = staff(app, "clerk")
    assert admin.post(f"/staff-admin/{target.id}/disable", data={"version": target.admin_version}).status_code == 303
    assert admin.post(f"/staff-admin/{target.id}/disable", data={"version": target.admin_version}).status_code == 303
    assert not staff(app, "clerk").is_enabled
    assert clerk.get("/opening/").status_code == 302
    assert len(audits(app, "staff.disable")) == 1  # the second click did nothing
    assert admin.post(f"/staff-admin/{target.id}/enable", data={}).status_code == 303
    assert login_as(app, "clerk").get("/opening/").status_code == 200


def test_an_administrator_cannot_disable_themselves(app):
    admin = login_as(app, "admin")
    assert admin.post(f"/staff-admin/{staff(app, 'admin').id}/disable", data={}).status_code == 403
    assert staff(app, "admin").is_enabled


def test_ending_sessions_logs_the_staff_member_out_everywhere(app):
    first, second = login_as(app, "clerk"), login_as(app, "clerk")
    admin = login_as(app, "admin")
    assert admin.post(f"/staff-admin/{staff(app, 'clerk').id}/end-sessions", data={}).status_code == 303
    assert first.get("/opening/").status_code == 302 and second.get("/opening/").status_code == 302
    assert login_as(app, "clerk").get("/opening/").status_code == 200


def test_a_reset_shows_a_temporary_password_once_and_the_old_one_stops_working(app):
    clerk = login_as(app, "clerk")
    admin = login_as(app, "admin")
    target = staff(app, "clerk")
    response = admin.post(f"/staff-admin/{target.id}/reset-password", data={"version": target.admin_version})
    assert response.status_code == 200
    temporary = temporary_password_in(response)
    assert clerk.get("/opening/").status_code == 302
    assert staff(app, "clerk").must_change_password
    again = admin.post(f"/staff-admin/{target.id}/reset-password", data={"version": target.admin_version})
    assert again.status_code == 409  # the double click made no second password
    newcomer = fresh_login(app, "clerk", temporary)
    assert newcomer.landing.request.path == "/staff-admin/password"
    [event] = audits(app, "staff.password_reset")
    assert temporary not in str(event.detail)


def test_an_hq_administrator_may_disable_another_but_not_themselves(app):
    from tests.requests.helpers import add_staff

    add_staff(app, "admin2", "hq_admin", branch_code="0000", full_name="钱管理")
    second = login_as(app, "admin2")
    assert second.post(f"/staff-admin/{staff(app, 'admin').id}/disable", data={}).status_code == 303
    assert login_as(app, "admin2").post(f"/staff-admin/{staff(app, 'admin2').id}/disable", data={}).status_code == 403
