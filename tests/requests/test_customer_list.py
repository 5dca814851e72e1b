"""The customer list: each filter and their combinations, branch and manager scope, keyset pages,
saved filters, the masked and audited Excel export, 422 on bad dates, queries per page."""
import io
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select

from blueprints.auth.models import Branch, Staff
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer
from blueprints.grading.models import CustomerGrade
from blueprints.managers.models import CustomerAssignment
from blueprints.search.models import SavedCustomerFilter
from core.extensions import db
from core.masking import mask_id_number, mask_mobile
from core.models import AuditEvent
from core.timeutil import business_today
from tests import factories
from tests.requests.helpers import login_as, page_of, staff_id

DEMO_CUSTOMER_NO = "C0101000001"


def _id(n: int) -> str:
    return factories.make_id("110105", f"{1960 + n % 40}0{1 + n % 9}1{n % 9}", f"{n % 1000:03d}")


def add_customer(customer_no: str, *, branch: str = "0101", kind: str = "current", risk: str | None = None,
                 grade: str | None = None, manager: str | None = None, created: datetime | None = None,
                 valid_to: date | None | str = "none", name: str = "李明", mobile: str | None = None,
                 id_number: str | None = None) -> int:
    """A customer with the columns the list filters on; call inside an app context, then commit."""
    home = db.session.scalar(select(Branch).where(Branch.code == branch))
    number = id_number or _id(int(customer_no[-4:]))
    customer = customer_services.create_customer(
        branch=home, customer_no=customer_no, source="import", actor=None, reason="既有客户", kind=kind,
        values={"name": name, "id_type": "resident_id", "id_number": number, "mobile": mobile})
    customer.risk_class = risk
    if created is not None:
        customer.created_at = created
    if grade:
        db.session.add(CustomerGrade(customer_id=customer.id, grade=grade, figures={}, valued_on=business_today()))
    if manager:
        staff = db.session.scalar(select(Staff).where(Staff.username == manager))
        db.session.add(CustomerAssignment(customer_id=customer.id, staff_id=staff.id, effective_from=date(2020, 1, 1),
                                          reason="分配"))
    if valid_to != "none":
        customer_services.add_id_document(customer, {"id_type": "resident_id", "id_number": number, "name": name,
                                                     "valid_to": valid_to}, source="import", actor=None)
    db.session.flush()
    return customer.id


@pytest.fixture
def mixed(app):
    """Customers of both branches that differ in one filter each."""
    with app.app_context():
        add_customer("C0101200001", risk="C3", grade="gold", manager="cmanager2", created=datetime(2025, 3, 1, 2),
                     valid_to=business_today() - timedelta(days=3), mobile="13912340001")
        add_customer("C0101200002", risk="C3", grade="silver", created=datetime(2025, 6, 1, 2),
                     valid_to=business_today() + timedelta(days=20))
        add_customer("C0101200003", risk="C4", grade="gold", created=datetime(2025, 9, 1, 2),
                     valid_to=business_today() + timedelta(days=75))
        add_customer("C0101200004", kind="potential", created=datetime(2026, 1, 10, 2), valid_to=None)
        add_customer("C0101200005", kind="lost", risk="C1", created=datetime(2024, 12, 31, 17))  # 2025-01-01 in Beijing
        add_customer("C0201200001", branch="0201", risk="C3", grade="gold", created=datetime(2025, 3, 2, 2),
                     valid_to=business_today() - timedelta(days=3))
        db.session.commit()


def listed(response) -> list[str]:
    body = response.get_data(as_text=True)
    rows = body.split('id="customer-list"')[1] if 'id="customer-list"' in body else ""
    return [part.split('"')[0] for part in rows.split('href="/customers/')[1:]
            if part[:1] == "C" and "?" not in part.split('"')[0]]


def numbers(auth, **args) -> set[str]:
    response = auth.get("/customers/", query_string=args)
    assert response.status_code == 200, response.status_code
    return set(listed(response))


@pytest.mark.parametrize("args, expected", [
    ({"risk": "C3"}, {"C0101200001", "C0101200002"}),
    ({"grade": "gold"}, {"C0101200001", "C0101200003"}),
    ({"kind": "potential"}, {"C0101200004"}),
    ({"kind": "lost"}, {"C0101200005"}),
    ({"id_expiry": "expired"}, {"C0101200001"}),
    ({"id_expiry": "30"}, {"C0101200002"}),
    ({"id_expiry": "90"}, {"C0101200002", "C0101200003"}),
    ({"opened_from": "2025-01-01", "opened_to": "2025-06-01"}, {"C0101200001", "C0101200002", "C0101200005"}),
    ({"opened_from": "2025-06-02"}, {"C0101200003", "C0101200004", DEMO_CUSTOMER_NO}),
    ({"q": "c01012000"}, {"C0101200001", "C0101200002", "C0101200003", "C0101200004", "C0101200005"}),
])
def test_each_filter_lists_only_its_matches_within_the_branch(app, mixed, args, expected):
    shown = numbers(login_as(app, "manager"), **args)
    if "opened_from" in args and "opened_to" not in args:
        shown &= expected | {DEMO_CUSTOMER_NO}
    assert shown == expected


def test_manager_filter_lists_that_managers_customers(app, mixed):
    manager = login_as(app, "manager")
    assert numbers(manager, manager=str(staff_id(app, "cmanager2"))) == {"C0101200001"}
    assert numbers(manager, manager=str(staff_id(app, "cmanager"))) == {DEMO_CUSTOMER_NO}


def test_filters_combine(app, mixed):
    manager = login_as(app, "manager")
    assert numbers(manager, grade="gold", risk="C3") == {"C0101200001"}
    assert numbers(manager, grade="gold", risk="C3", id_expiry="30") == set()
    assert numbers(manager, risk="C3", opened_from="2025-05-01", q="C0101") == {"C0101200002"}


def test_hq_filters_by_branch_and_sees_every_branch(app, mixed):
    admin = login_as(app, "admin")
    other = str(app_branch_id(app, "0201"))
    assert numbers(admin, branch=other) == {"C0201200001"}
    assert numbers(admin, grade="gold", risk="C3") == {"C0101200001", "C0201200001"}


def app_branch_id(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Branch.id).where(Branch.code == code))


def test_a_clerk_never_sees_another_branchs_customer_with_any_filter_or_cursor(app, mixed):
    clerk = login_as(app, "clerk")
    other = str(app_branch_id(app, "0201"))
    for args in ({}, {"branch": other}, {"risk": "C3"}, {"grade": "gold"}, {"id_expiry": "expired"},
                 {"q": "C0201"}, {"branch": other, "grade": "gold", "risk": "C3"}):
        assert not any(n.startswith("C0201") for n in numbers(clerk, **args)), args
    # A cursor taken from HQ's list (the same list scope) still pages within the clerk's branch.
    admin_page = login_as(app, "admin").get("/customers/", query_string={"risk": "C3"})
    body = admin_page.get_data(as_text=True)
    assert "C0201200001" in body
    with app.app_context():
        from core import keyset
        from blueprints.search import listing

        shanghai = db.session.scalar(select(Customer).where(Customer.customer_no == "C0201200001"))
        with app.test_request_context():
            cursor = keyset.encode_cursor((shanghai.created_at + timedelta(seconds=1), shanghai.id + 1), listing.SCOPE)
    assert "C0201200001" not in numbers(clerk, after=cursor, risk="C3")
    assert "C0201200001" not in numbers(clerk, after="forged-cursor")


def test_customer_managers_see_only_their_customers(app, mixed):
    assert numbers(login_as(app, "cmanager")) == {DEMO_CUSTOMER_NO}
    mine = login_as(app, "cmanager2")
    assert numbers(mine) == {"C0101200001"}
    page = page_of(mine.get("/customers/"))
    assert not any(i.get("name") == "manager" for i in page.inputs) and 'name="manager"' not in page.html
    # Asking for another manager's customers changes nothing: the filter is not theirs to use.
    assert numbers(mine, manager=str(staff_id(app, "cmanager"))) == {"C0101200001"}
    assert numbers(login_as(app, "broker")) == set()


def test_rows_show_masked_name_branch_grade_risk_manager_and_id_validity(app, mixed):
    body = login_as(app, "manager").get("/customers/", query_string={"q": "C0101200001"}).get_data(as_text=True)
    row = body.split('title="查看客户">C0101200001</a></td>')[1].split("</tr>")[0]
    assert "李*" in row and "李明" not in body
    assert "北京朝阳门营业部" in row and "金卡" in row and "C3" in row and "林客户经理" in row
    assert "2025-03-01" in row and (business_today() - timedelta(days=3)).isoformat() in row and "已过期" in row


def test_pages_follow_by_keyset_newest_first_and_keep_the_filters(app):
    with app.app_context():
        for n in range(1, 61):
            add_customer(f"C010130{n:04d}", risk="C2", created=datetime(2025, 1, 1) + timedelta(hours=n))
        add_customer("C0101309999", risk="C5", created=datetime(2025, 6, 1))
        db.session.commit()
    manager = login_as(app, "manager")
    first = manager.get("/customers/", query_string={"risk": "C2"})
    shown = listed(first)
    assert shown[0] == "C0101300060" and len(shown) == 50
    link = next(u for u in page_of(first).urls if "after=" in u and u.startswith("/customers/?"))
    args = parse_qs(urlsplit(link).query)
    assert args["risk"] == ["C2"]
    second = manager.get(link, htmx=True)
    assert second.get_data(as_text=True).lstrip().startswith('<div id="customer-rows">')
    rest = listed(second)
    assert rest == [f"C010130{n:04d}" for n in range(10, 0, -1)]
    assert "risk=C2" in second.headers["HX-Push-Url"] and "after=" in second.headers["HX-Push-Url"]


def test_every_read_of_the_list_is_audited_with_filters_and_rows(app, mixed):
    login_as(app, "manager").get("/customers/", query_string={"risk": "C3", "grade": "gold"})
    with app.app_context():
        event_ = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "customers.list")
                                    .order_by(AuditEvent.id.desc())).first()
        assert event_.detail["filters"] == {"risk": "C3", "grade": "gold"} and event_.detail["rows"] == 1


@pytest.mark.parametrize("args, field, message", [
    ({"opened_from": "2025-13-01"}, "opened_from", "请输入正确的日期"),
    ({"opened_from": "2025-06-01", "opened_to": "2025-05-01"}, "opened_to", "结束日期不能早于开始日期"),
    ({"opened_to": "昨天"}, "opened_to", "请输入正确的日期"),
])
def test_bad_dates_answer_422_next_to_the_field_keeping_the_other_filters(app, mixed, args, field, message):
    manager = login_as(app, "manager")
    response = manager.get("/customers/", query_string={**args, "risk": "C3", "grade": "gold", "q": "C0101"})
    assert response.status_code == 422
    page = page_of(response)
    assert any(message in m for m in page.errors_for(field))
    assert page.select_value("risk") == "C3" and page.select_value("grade") == "gold"
    assert next(i for i in page.inputs if i.get("id") == "q")["value"] == "C0101"
    for name, value in args.items():
        assert page.value(name) == value
    fragment = manager.get("/customers/", query_string={**args, "risk": "C3"}, htmx=True)
    assert fragment.status_code == 422 and fragment.headers["HX-Retarget"] == "#customer-area"
    assert 'id="field-' + field in fragment.get_data(as_text=True)


def test_a_choice_outside_the_lists_is_refused_with_a_message(app, mixed):
    response = login_as(app, "manager").get("/customers/", query_string={"risk": "C9", "kind": "historical"})
    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for("risk") and page.errors_for("kind")


# -- saved filters

def save(auth, name: str, **filters):
    return auth.post("/customers/filters", {"name": name, **filters})


def test_a_user_saves_applies_and_deletes_a_filter(app, mixed):
    manager = login_as(app, "manager")
    response = save(manager, "金卡C3", grade="gold", risk="C3")
    assert response.status_code == 303
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {"grade": ["gold"], "risk": ["C3"]}
    page = page_of(manager.get("/customers/"))
    link = next(u for u in page.urls if u.startswith("/customers/?") and "grade=gold" in u)
    assert "金卡C3" in page.html
    assert set(listed(manager.get(link))) == {"C0101200001"}
    with app.app_context():
        saved = db.session.scalar(select(SavedCustomerFilter))
        assert saved.params == {"grade": "gold", "risk": "C3"}
        saved_id = saved.id
    assert manager.post(f"/customers/filters/{saved_id}/delete").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(SavedCustomerFilter)) is None


def test_a_name_is_kept_once_per_user(app, mixed):
    manager = login_as(app, "manager")
    assert save(manager, "我的客户", risk="C3").status_code == 303
    clash = save(manager, "我的客户", risk="C4")
    assert clash.status_code == 422
    page = page_of(clash)
    assert "已有同名的常用筛选" in " ".join(page.errors_for("name")) and page.select_value("risk") == "C4"
    # Another user may use the same name.
    assert save(login_as(app, "clerk"), "我的客户", risk="C4").status_code == 303


def test_a_filter_needs_a_name(app, mixed):
    response = save(login_as(app, "manager"), "  ", risk="C3")
    assert response.status_code == 422 and page_of(response).errors_for("name")


def test_another_users_saved_filter_is_not_found(app, mixed):
    save(login_as(app, "manager"), "金卡", grade="gold")
    with app.app_context():
        saved_id = db.session.scalar(select(SavedCustomerFilter.id))
    clerk = login_as(app, "clerk")
    assert clerk.post(f"/customers/filters/{saved_id}/delete").status_code == 404
    assert "金卡" not in clerk.get("/customers/").get_data(as_text=True).split('id="saved-filters"')[1]
    with app.app_context():
        assert db.session.get(SavedCustomerFilter, saved_id) is not None


def test_saving_and_deleting_need_the_csrf_token(app, mixed):
    manager = login_as(app, "manager")
    assert manager.client.post("/customers/filters", data={"name": "无令牌", "risk": "C3"}).status_code == 400
    save(manager, "有令牌", risk="C3")
    with app.app_context():
        saved_id = db.session.scalar(select(SavedCustomerFilter.id))
    assert manager.client.post(f"/customers/filters/{saved_id}/delete").status_code == 400
    with app.app_context():
        assert [s.name for s in db.session.scalars(select(SavedCustomerFilter))] == ["有令牌"]


# -- export

def workbook_rows(response) -> list[list]:
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    return [list(r) for r in sheet.iter_rows(values_only=True)]


@pytest.fixture
def exportable(app):
    with app.app_context():
        add_customer("C0101400001", risk="C4", grade="gold", name="王小明", mobile="13812348000",
                     id_number=factories.make_id("110105", "19800115", "137"), valid_to=date(2030, 1, 1))
        add_customer("C0101400002", risk="C4", name="赵丽", id_number=factories.make_id("110105", "19850203", "211"))
        add_customer("C0201400001", branch="0201", risk="C4", name="钱多",
                     id_number=factories.make_id("310115", "19800115", "155"))
        db.session.commit()


def test_export_masks_id_numbers_and_mobiles_for_a_branch_manager(app, exportable):
    response = login_as(app, "manager").get("/customers/export.xlsx", query_string={"risk": "C4"})
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "filename*=UTF-8''" in disposition and "%E5%AE%A2" in disposition
    rows = workbook_rows(response)
    assert rows[0][:3] == ["客户号", "姓名", "营业部"]
    by_no = {r[0]: r for r in rows[1:]}
    assert set(by_no) == {"C0101400001", "C0101400002"}
    wang = by_no["C0101400001"]
    id_number = factories.make_id("110105", "19800115", "137")
    assert wang[1] == "王**" and wang[9] == mask_id_number(id_number) and wang[11] == mask_mobile("13812348000")
    assert wang[4] == "金卡" and wang[5] == "C4" and wang[10] == "2030-01-01"
    assert id_number not in repr(rows) and "13812348000" not in repr(rows) and "19800115" not in repr(rows)


def test_export_shows_full_id_numbers_to_roles_that_check_them_and_masks_the_rest(app, exportable):
    rows = workbook_rows(login_as(app, "clerk").get("/customers/export.xlsx", query_string={"risk": "C4"}))
    wang = next(r for r in rows if r[0] == "C0101400001")
    # As on the clerk's screens: the ID number in full, the name and mobile masked as in the list.
    assert wang[9] == factories.make_id("110105", "19800115", "137")
    assert wang[1] == "王**" and wang[11] == mask_mobile("13812348000") and "13812348000" not in repr(rows)


def test_export_is_audited_with_filters_and_row_count_and_no_personal_value(app, exportable):
    login_as(app, "clerk").get("/customers/export.xlsx", query_string={"risk": "C4"})
    with app.app_context():
        event_ = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customers.export"))
        assert event_.detail == {"filters": {"risk": "C4"}, "rows": 2, "full_id": True}
        dumped = repr(event_.detail)
        assert "王小明" not in dumped and "13812348000" not in dumped


@pytest.mark.parametrize("username", ["broker", "cmanager", "visitor"])
def test_customer_managers_brokers_and_return_visit_agents_may_not_export(app, exportable, username):
    auth = login_as(app, username)
    assert auth.get("/customers/export.xlsx").status_code == 403
    assert 'id="export-list"' not in auth.get("/customers/").get_data(as_text=True)


def test_an_export_beyond_the_cap_is_refused_with_a_message(app, exportable):
    app.config["CUSTOMER_EXPORT_LIMIT"] = 1
    try:
        response = login_as(app, "manager").get("/customers/export.xlsx", query_string={"risk": "C4"})
    finally:
        app.config.pop("CUSTOMER_EXPORT_LIMIT")
    assert response.status_code == 422 and "请缩小筛选范围" in response.get_data(as_text=True)


def test_export_runs_over_several_batches_in_order(app, monkeypatch):
    from blueprints.search import listing

    monkeypatch.setattr(listing, "EXPORT_BATCH", 7)
    with app.app_context():
        for n in range(1, 24):
            add_customer(f"C010150{n:04d}", risk="C2", created=datetime(2025, 1, 1) + timedelta(hours=n))
        db.session.commit()
    rows = workbook_rows(login_as(app, "manager").get("/customers/export.xlsx", query_string={"risk": "C2"}))
    assert [r[0] for r in rows[1:]] == [f"C010150{n:04d}" for n in range(23, 0, -1)]
    with app.app_context():
        event_ = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customers.export"))
        assert event_.detail["rows"] == 23


# -- cost

def statements_for(app, auth, args) -> int:
    with app.app_context():
        engine = db.engine
    count = 0

    def counter(*_args):
        nonlocal count
        count += 1

    event.listen(engine, "before_cursor_execute", counter)
    try:
        response = auth.get("/customers/", query_string=args)
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    assert response.status_code == 200 and len(listed(response)) == 50
    return count


def test_queries_per_page_stay_the_same_at_60_and_600_customers(app):
    def grow(upto: int, start: int):
        with app.app_context():
            for n in range(start, upto):
                add_customer(f"C01016{n:05d}", risk="C3", grade="gold", manager="cmanager2" if n % 2 else None,
                             valid_to=business_today() + timedelta(days=n % 400), created=datetime(2024, 1, 1) + timedelta(hours=n))
            db.session.commit()

    grow(60, 0)
    manager = login_as(app, "manager")
    manager.get("/customers/")  # warm up caches
    small = [statements_for(app, manager, a) for a in ({}, {"grade": "gold", "risk": "C3"})]
    grow(600, 60)
    large = [statements_for(app, manager, a) for a in ({}, {"grade": "gold", "risk": "C3"})]
    assert small == large
