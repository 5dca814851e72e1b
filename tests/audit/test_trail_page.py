"""The audit trail page (审计日志): HQ reads every branch's entries, a branch manager their branch's only;
filters by user, category, object and date; bad filters answered next to their field; reading it is audited."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from blueprints.auth.models import Branch
from core.extensions import db
from core.models import AuditEvent
from core.timeutil import business_today, utcnow
from tests.conftest import Auth
from tests.requests.helpers import login_as, page_of

CUSTOMER = "C0101000001"  # the demo customer, of the Beijing branch
URL = "/audit/"


def entry_rows(response) -> list[str]:
    """The rows of the trail's table, as the text of each (tags dropped)."""
    html = response.get_data(as_text=True)
    body = html.split('id="trail-list"', 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [re.sub(r"<[^>]+>", " ", row) for row in body.split("<tr ")[1:]]


def _branch_id(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Branch.id).where(Branch.code == code))


@pytest.fixture
def activity(app):
    """A Beijing clerk reads the demo customer; a Shanghai clerk is refused it; a stranger fails to log in."""
    beijing = login_as(app, "clerk")
    assert beijing.get(f"/customers/{CUSTOMER}").status_code == 200
    shanghai = login_as(app, "clerk_sh")
    assert shanghai.get(f"/customers/{CUSTOMER}").status_code in (403, 404)
    assert Auth(app.test_client()).login("clerk", "wrong-password").status_code == 422


def test_hq_reads_every_branch_and_a_branch_manager_only_their_own(app, activity):
    rows = entry_rows(login_as(app, "admin").get(URL))
    assert any("clerk_sh" in row and "拒绝访问" in row for row in rows)
    assert any("登录失败" in row for row in rows)
    assert any(" clerk " in row and "北京" in row and CUSTOMER in row for row in rows)

    branch = login_as(app, "manager").get(URL)
    assert branch.status_code == 200
    rows = entry_rows(branch)
    assert rows and not any("clerk_sh" in row for row in rows)
    assert all("上海" not in row for row in rows)
    assert "仅显示本营业部人员的操作" in branch.get_data(as_text=True)


def test_filters_by_user_category_and_object(app, activity):
    admin = login_as(app, "admin")

    denied = entry_rows(admin.get(URL, query_string={"category": "access"}))
    assert denied and all("拒绝访问" in row for row in denied)
    assert any("clerk_sh" in row and CUSTOMER in row for row in denied)

    by_user = entry_rows(admin.get(URL, query_string={"staff": "clerk_sh"}))
    assert by_user and all("clerk_sh" in row for row in by_user)

    by_object = entry_rows(admin.get(URL, query_string={"object_id": CUSTOMER.lower()}))
    assert by_object and all(CUSTOMER in row for row in by_object)

    shanghai = _branch_id(app, "0201")
    in_shanghai = entry_rows(admin.get(URL, query_string={"branch": shanghai}))
    assert in_shanghai and all("clerk_sh" in row or "上海" in row for row in in_shanghai)


def test_a_date_range_finds_the_days_entries_in_beijing_time(app, activity):
    admin = login_as(app, "admin")
    with app.app_context():
        # One entry of three days ago (an entry's time is never changed on PostgreSQL: it is a test's world).
        old = db.session.scalar(select(AuditEvent).where(AuditEvent.actor_name == "clerk_sh").order_by(AuditEvent.id))
        old_id = old.id
    today = business_today()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            db.session.execute(update(AuditEvent).where(AuditEvent.id == old_id)
                               .values(at=utcnow() - timedelta(days=3)))
            db.session.commit()
        three_days_ago = entry_rows(admin.get(URL, query_string={
            "date_from": (today - timedelta(days=3)).isoformat(), "date_to": (today - timedelta(days=3)).isoformat()}))
        assert len(three_days_ago) == 1 and "clerk_sh" in three_days_ago[0]
    todays = entry_rows(admin.get(URL, query_string={"date_from": today.isoformat(), "date_to": today.isoformat()}))
    assert todays
    future = admin.get(URL, query_string={"date_from": (today + timedelta(days=1)).isoformat()})
    assert "没有符合条件的审计记录" in future.get_data(as_text=True)


@pytest.mark.parametrize("query, field, message", [
    ({"date_from": "2026-13-01"}, "date_from", "请输入正确的日期（年-月-日）"),
    ({"date_from": "2026-12-05", "date_to": "2026-12-01"}, "date_to", "结束日期不能早于开始日期"),
    ({"category": "nonsense"}, "category", "请选择列表中的业务类别"),
    ({"staff": "<script>"}, "staff", "用户名只含字母、数字和 _ . @ -"),
    ({"object_id": "C0101 OR 1=1"}, "object_id", "请输入客户号、申请编号或业务编号（字母和数字）"),
])
def test_a_bad_filter_is_answered_next_to_its_field_and_keeps_the_others(app, query, field, message):
    admin = login_as(app, "admin")
    response = admin.get(URL, query_string={"staff": "clerk", **query} if field != "staff" else query)
    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for(field) == [message]
    if field != "staff":
        assert page.value("staff") == "clerk"


def test_a_branch_manager_has_no_branch_to_pick_and_another_branch_in_the_url_changes_nothing(app, activity):
    response = login_as(app, "manager").get(URL, query_string={"branch": _branch_id(app, "0201")})
    assert response.status_code == 200 and 'name="branch"' not in response.get_data(as_text=True)
    rows = entry_rows(response)
    assert rows and not any("clerk_sh" in row for row in rows)


def test_hq_cannot_pick_a_branch_that_does_not_exist(app):
    response = login_as(app, "admin").get(URL, query_string={"branch": 99999})
    assert response.status_code == 422
    assert page_of(response).errors_for("branch") == ["请选择列表中的营业部"]


def test_pages_walk_the_trail_without_repeating_an_entry(app, activity):
    from blueprints.audit_trail import services
    from blueprints.auth.models import Staff

    with app.test_request_context():
        total = db.session.scalar(select(func.count()).select_from(AuditEvent))
        admin = db.session.scalar(select(Staff).where(Staff.username == "admin"))
        seen, cursor = [], None
        while True:
            found = services.trail_page(admin, cursor, size=7)
            seen += [entry.id for entry in found.rows]
            cursor = found.next_cursor
            if cursor is None:
                break
    assert total > 7 and len(seen) == len(set(seen)) == total
    assert seen == sorted(seen, reverse=True)  # newest first


def test_reading_the_trail_is_itself_audited_with_the_filters_used(app, activity):
    login_as(app, "manager").get(URL, query_string={"category": "auth", "staff": "clerk"})
    with app.app_context():
        entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.trail_view"))
    assert entry.actor_name == "manager" and entry.detail["filters"] == ["category", "username"]


@pytest.mark.parametrize("username", ["clerk", "reviewer", "archivist", "visitor", "cmanager"])
def test_other_roles_are_refused(app, username):
    assert login_as(app, username).get(URL).status_code == 403
