"""Every work list pages by keyset: each row once and in order, the own branch's rows only, bad cursors
start over, and the statements per page stay the same whether the list holds 60 rows or 600."""
import html
import random
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import pytest
from sqlalchemy import event, select

from bench import crm_data, list_data
from blueprints.archive.models import LendingRecord
from blueprints.auth.models import Branch, Staff
from blueprints.customers.models import Customer, CustomerProfile
from blueprints.opening.models import Application
from blueprints.return_visit.models import ReturnVisitCase
from core.extensions import db
from core.roles import Role
from tests.requests.helpers import add_staff, login_as

HOME, OTHER = "0101", "0201"


def _branch(code: str) -> int:
    return db.session.scalar(select(Branch.id).where(Branch.code == code))


def _staff(username: str) -> int:
    return db.session.scalar(select(Staff.id).where(Staff.username == username))


def grow(app, customers: int, seed: int) -> None:
    """More customers with their openings (bench/crm_data.py), spread over the branches like a real network."""
    with app.app_context():
        crm_data.generate(customers, seed=seed)


# -- the lists: how to add n rows to a branch, who reads them, how a row shows, the order expected

def _add_cases(status: str):
    def add(app, code: str, count: int) -> None:
        with app.app_context():
            found = list_data.openings(_branch(code), limit=count)
            assert len(found) == count, "not enough openings: grow the customers first"
            list_data.add_cases(found, _staff("visitor"), random.Random(count),
                                awaiting=1.0 if status == "awaiting" else 0.0,
                                escalated=1.0 if status == "escalated" else 0.0)
            db.session.commit()
    return add


def _add_reviews(app, code: str, count: int) -> None:
    with app.app_context():
        clerk = _staff("clerk" if code == HOME else "clerk_sh")
        list_data.add_reviews(count, _branch(code), clerk, random.Random(count))
        db.session.commit()


def _add_lending(app, code: str, count: int) -> None:
    with app.app_context():
        branch = _branch(code)
        customers = list(db.session.scalars(select(Customer.id).where(Customer.branch_id == branch)))
        reader = _staff("archivist" if code == HOME else "clerk_sh")
        list_data.add_lending(customers, reader, branch, count, random.Random(count))
        db.session.commit()


def _cases_in_order(status: str, columns):
    def expected(app, branch_id: int | None) -> list[str]:
        with app.app_context():
            query = (select(Application.reference).join(ReturnVisitCase, ReturnVisitCase.application_id == Application.id)
                     .where(ReturnVisitCase.status == status).order_by(*columns, ReturnVisitCase.application_id))
            if branch_id is not None:
                query = query.where(Application.branch_id == branch_id)
            return list(db.session.scalars(query))
    return expected


def _reviews_in_order(app, branch_id: int | None) -> list[str]:
    with app.app_context():
        query = (select(Application.reference).where(Application.status.in_(("submitted", "resubmitted")))
                 .order_by(Application.submitted_at, Application.id))
        if branch_id is not None:
            query = query.where(Application.branch_id == branch_id)
        return list(db.session.scalars(query))


def _lending_in_order(app, branch_id: int | None) -> list[str]:
    with app.app_context():
        query = select(LendingRecord.id).order_by(LendingRecord.at.desc(), LendingRecord.id.desc())
        if branch_id is not None:
            query = query.outerjoin(Customer, Customer.id == LendingRecord.customer_id).where(
                (LendingRecord.branch_id == branch_id) | (Customer.branch_id == branch_id))
        return [str(i) for i in db.session.scalars(query)]


def _customers_in_order(app, branch_id: int | None) -> list[str]:
    with app.app_context():
        query = select(Customer.customer_no).order_by(Customer.created_at.desc(), Customer.id.desc())
        if branch_id is not None:
            query = query.where(Customer.branch_id == branch_id)
        return list(db.session.scalars(query))


def _named_in_order(app, branch_id: int | None) -> set[str]:
    """Customers whose name or given name starts with 王 (the order is the search keys', checked apart)."""
    with app.app_context():
        query = select(Customer.customer_no, CustomerProfile.name).join(
            CustomerProfile, (CustomerProfile.customer_id == Customer.id) & (CustomerProfile.version == Customer.profile_version))
        if branch_id is not None:
            query = query.where(Customer.branch_id == branch_id)
        return {number for number, name in db.session.execute(query) if name.startswith("王") or name[1:].startswith("王")}


@dataclass
class ListCase:
    name: str
    username: str
    hq_username: str
    hq_role: str
    url: str
    row: str  # the attribute each row carries its key in
    add: Callable | None
    expected: Callable
    form: dict | None = None  # posted (a name search), then read from the page it is kept under

    def fetch(self, user, cursor: str | None = None, htmx: bool = False):
        url = self.url
        if self.form is not None:
            posted = user.post(self.url, self.form)
            assert posted.status_code == 303
            url = posted.headers["Location"]
        return user.get(url + (("&" if "?" in url else "?") + f"after={cursor}" if cursor else ""), htmx=htmx)


LISTS = [
    ListCase("queue", "visitor", "visitor_hq", Role.RETURN_VISIT, "/return-visits/", "data-reference",
             _add_cases("awaiting"),
             _cases_in_order("awaiting", (ReturnVisitCase.queue_tier, ReturnVisitCase.waiting_since))),
    ListCase("escalated", "manager", "admin", Role.HQ_ADMIN, "/return-visits/escalated", "data-reference",
             _add_cases("escalated"), _cases_in_order("escalated", (ReturnVisitCase.escalated_at,))),
    ListCase("review", "reviewer", "reviewer_hq", Role.REVIEWER, "/review/", "data-reference", _add_reviews,
             _reviews_in_order),
    ListCase("register", "archivist", "admin", Role.HQ_ADMIN, "/archive/register", "data-record", _add_lending,
             _lending_in_order),
    ListCase("archive", "archivist", "admin", Role.HQ_ADMIN, "/archive/?date_from=2000-01-01", "data-customer", None,
             _customers_in_order),
    ListCase("archive_name", "archivist", "admin", Role.HQ_ADMIN, "/archive/", "data-customer", None,
             _named_in_order, form={"name": "王"}),
]

ROW_KEY = {name: re.compile(rf'<(?:tr|article)[^>]* {attribute}="([^"]+)"') for name, attribute in
           (("data-reference", "data-reference"), ("data-record", "data-record"), ("data-customer", "data-customer"))}


def rows_of(case: ListCase, body: str) -> list[str]:
    return ROW_KEY[case.row].findall(body)


def next_cursor(body: str) -> str | None:
    """The cursor of the "下一页" link or button, from its URL or its form."""
    link = re.search(r'class="button keyset-next" href="([^"]+)"', body)
    if link:
        return re.search(r"after=([^&]+)", html.unescape(link.group(1))).group(1)
    button = re.search(r'name="after" value="([^"]+)">\s*<button type="submit" class="button keyset-next"', body)
    return button.group(1) if button else None


def walk(case: ListCase, user) -> tuple[list[str], list[str]]:
    """Every row, following "下一页" to the end; and each page's body."""
    seen, bodies, cursor = [], [], None
    for _ in range(100):
        response = case.fetch(user, cursor)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        seen += rows_of(case, body)
        bodies.append(body)
        cursor = next_cursor(body)
        if cursor is None:
            return seen, bodies
    raise AssertionError("the list never ended")


def fill(app, case: ListCase, home: int, other: int = 12) -> None:
    if case.add is not None:
        case.add(app, HOME, home)
        case.add(app, OTHER, other)


@pytest.mark.parametrize("case", LISTS[:-1], ids=lambda c: c.name)
def test_every_row_once_in_order_and_only_the_own_branchs(app, case):
    grow(app, 700, seed=1)
    fill(app, case, 130)
    with app.app_context():
        home = _branch(HOME)
    user = login_as(app, case.username)
    seen, bodies = walk(case, user)
    expected = case.expected(app, home)
    assert len(bodies) >= 2, "the list must be longer than a page"
    assert len(seen) == len(set(seen))
    if isinstance(expected, set):
        assert set(seen) == expected
    else:
        assert seen == expected
    assert "回到第一页" not in bodies[0] and all("回到第一页" in body for body in bodies[1:])
    assert "已是最后一页" in bodies[-1] and all("已是最后一页" not in body for body in bodies[:-1])


def test_the_queue_is_in_working_order_across_pages(app):
    grow(app, 700, seed=2)
    _add_cases("awaiting")(app, HOME, 130)
    seen, _bodies = walk(LISTS[0], login_as(app, "visitor"))
    with app.app_context():
        tiers = dict(db.session.execute(select(Application.reference, ReturnVisitCase.queue_tier)
                                        .join(ReturnVisitCase, ReturnVisitCase.application_id == Application.id)).all())
    assert [tiers[r] for r in seen] == sorted(tiers[r] for r in seen)
    assert len({tiers[r] for r in seen}) == 3


def test_the_name_search_lists_each_customer_once_in_key_order(app):
    grow(app, 1500, seed=3)
    seen, bodies = walk(LISTS[-1], login_as(app, "admin"))
    assert len(bodies) >= 2 and len(seen) == len(set(seen)) and set(seen) == _named_in_order(app, None)
    # The name never rides in a URL, and the cursor holds no name.
    for body in bodies:
        assert not [u for u in re.findall(r'(?:href|hx-get|hx-post|action)="([^"]+)"', body) if "王" in html.unescape(u)]
    assert "王" not in next_cursor(bodies[0])


@pytest.mark.parametrize("case", LISTS, ids=lambda c: c.name)
def test_a_cursor_from_an_hq_session_shows_the_branch_only_its_own_rows(app, case):
    grow(app, 1500, seed=4)
    fill(app, case, 60, other=30)
    if case.hq_username != "admin":
        add_staff(app, case.hq_username, case.hq_role, "0000", "总部人员")
    hq = login_as(app, case.hq_username)
    everything, _bodies = walk(case, hq)
    with app.app_context():
        home, other = _branch(HOME), _branch(OTHER)
    others = set(case.expected(app, other)) - set(case.expected(app, home))
    assert others & set(everything), "HQ sees the other branch's rows"
    cursor = next_cursor(case.fetch(hq).get_data(as_text=True))
    branch_user = login_as(app, case.username)
    body = case.fetch(branch_user, cursor).get_data(as_text=True)
    shown = rows_of(case, body)
    assert shown and not set(shown) & others


@pytest.mark.parametrize("case", LISTS, ids=lambda c: c.name)
def test_a_tampered_cursor_starts_over_and_htmx_gets_the_rows_only(app, case):
    grow(app, 1500, seed=5)
    fill(app, case, 80)
    user = login_as(app, case.hq_username if case.form else case.username)
    first = case.fetch(user).get_data(as_text=True)
    cursor = next_cursor(first)
    for bad in (cursor[:-3] + "abc", "not-a-cursor"):
        again = case.fetch(user, bad)
        assert again.status_code == 200 and rows_of(case, again.get_data(as_text=True)) == rows_of(case, first)
    fragment = case.fetch(user, cursor, htmx=True)
    body = fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"] and "<html" not in body and rows_of(case, body)
    assert not set(rows_of(case, body)) & set(rows_of(case, first))


def test_empty_lists_say_so(app):
    for username, url, message in (("visitor", "/return-visits/", "暂无待回访的账户"),
                                   ("manager", "/return-visits/escalated", "暂无回访未通过、待处理的账户"),
                                   ("reviewer", "/review/", "暂无待复核的开户申请"),
                                   ("archivist", "/archive/register", "没有符合条件的借阅记录")):
        body = login_as(app, username).get(url).get_data(as_text=True)
        assert message in body and "下一页" not in body and "已是最后一页" not in body
    archivist = login_as(app, "archivist")
    body = archivist.get(archivist.post("/archive/", {"name": "欧阳"}).headers["Location"]).get_data(as_text=True)
    assert "没有符合条件的客户档案" in body


def test_a_name_that_is_not_a_name_is_refused_next_to_the_field(app):
    from tests.requests.helpers import page_of

    response = login_as(app, "archivist").post("/archive/", {"name": "12345"})
    assert response.status_code == 422
    assert page_of(response).errors_for("name") == ["请输入姓名的开头部分（汉字或拼音）"]
    assert 'value="12345"' in response.get_data(as_text=True)  # nothing typed is lost


@contextmanager
def counted_statements(app):
    count = [0]

    def before(*_args):
        count[0] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _statements(app, case: ListCase, user, deep: bool) -> int:
    cursor = next_cursor(case.fetch(user).get_data(as_text=True)) if deep else None
    with counted_statements(app) as count:
        assert case.fetch(user, cursor).status_code == 200
    return count[0]


def test_statements_per_page_do_not_grow_with_the_rows(app):
    grow(app, 3400, seed=6)
    users = {case.name: login_as(app, case.username if case.form is None else case.hq_username) for case in LISTS}
    small, large = {}, {}
    for case in LISTS:
        if case.add is not None:
            case.add(app, HOME, 60)
        small[case.name] = (_statements(app, case, users[case.name], False), _statements(app, case, users[case.name], True))
    grow(app, 9000, seed=7)  # the archive's rows are the customers: ten times as many
    for case in LISTS:
        if case.add is not None:
            case.add(app, HOME, 540)
        large[case.name] = (_statements(app, case, users[case.name], False), _statements(app, case, users[case.name], True))
    assert large == small
