"""The workbench (工作台) per role: counts of the work waiting, the oldest item and how long it waited."""
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from blueprints.accounts.models import FundAccount
from blueprints.archive.models import ExportJob, LendingRecord
from blueprints.auth.models import Branch, Staff
from blueprints.home import services as home_services
from blueprints.opening.models import Application, StatusChange
from blueprints.return_visit import services as return_visit
from blueprints.return_visit.models import ReturnVisit
from blueprints.review import services as review
from core import outbox
from core.extensions import db
from core.timeutil import business_today, utcnow
from tests import factories
from tests.requests.helpers import add_staff, login_as, page_of, staff_id


@pytest.fixture(autouse=True)
def _reset_simulators(app):
    yield
    app.extensions["china_clearing"].faults.reset()
    app.extensions["depository_bank"].faults.reset()
    app.extensions["trading"].faults.reset()


def submit(app, auth, username: str, token: str, seq: str, submit_it: bool = True) -> str:
    """A draft walked to the summary (and submitted) with its own ID number; return the reference."""
    reference = factories.start(auth, token=token)
    identity = factories.identity(id_number=factories.make_id("110105", "19880612", seq))
    factories.walk_with(auth, reference, "summary", staff_id(app, username), identity=identity)
    if submit_it:
        assert auth.post(factories.step_url(reference, "summary")).status_code == 303
    return reference


def _application(reference: str) -> Application:
    return db.session.scalar(select(Application).where(Application.reference == reference))


def approve(app, reference: str) -> None:
    with app.app_context():
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        review.approve(_application(reference), reviewer, reviewer)
        db.session.commit()


def reject(app, reference: str, reason: str) -> None:
    with app.app_context():
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        review.reject(_application(reference), reviewer, reviewer, reason, "contact")
        db.session.commit()


def deliver(app) -> None:
    with app.app_context():
        outbox.run_once()


def visit(app, reference: str, outcome: str, notes: str = "") -> None:
    with app.app_context():
        application = _application(reference)
        agent = db.session.scalar(select(Staff).where(Staff.username == "visitor"))
        # Items are confirmed only on a call that reached the customer.
        items = return_visit.required_items(application) if outcome != "not_reached" else []
        return_visit.record_visit(application, agent, outcome, items, notes)
        db.session.commit()


def backdate_status(app, reference: str, to_status: str, **delta) -> None:
    """Make the application look as if it entered `to_status` some time ago."""
    with app.app_context():
        application = _application(reference)
        db.session.execute(update(StatusChange).where(StatusChange.application_id == application.id,
                                                      StatusChange.to_status == to_status)
                           .values(at=utcnow() - timedelta(**delta)))
        if to_status == "draft":
            application.created_at = utcnow() - timedelta(**delta)
        db.session.commit()


def tile(html: str, key: str) -> tuple[int, str]:
    """The count a tile shows and its text."""
    match = re.search(rf'<section class="card" id="tile-{key}" data-count="(\d+)">(.*?)</section>', html, re.S)
    assert match, f"no tile {key}"
    return int(match.group(1)), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(2)))


def test_a_clerk_sees_own_drafts_returns_reviews_and_waiting_accounts(app):
    clerk = login_as(app, "clerk")
    oldest_draft = factories.start(clerk, token="d1")
    factories.start(clerk, token="d2")
    backdate_status(app, oldest_draft, "draft", hours=3, minutes=5)
    returned = submit(app, clerk, "clerk", "r1", "311")
    reject(app, returned, "联系地址与证件地址不一致，请核对")
    in_review = submit(app, clerk, "clerk", "s1", "313")
    opening = submit(app, clerk, "clerk", "o1", "315")
    approve(app, opening)
    app.extensions["china_clearing"].faults.fail_next(1)
    deliver(app)  # China Clearing is down: the application waits for its accounts
    waiting = submit(app, clerk, "clerk", "w1", "317")
    approve(app, waiting)
    deliver(app)
    # A colleague's work is not the clerk's.
    add_staff(app, "clerk2", "clerk", full_name="陈柜员")
    factories.start(login_as(app, "clerk2"), token="other")

    html = clerk.get("/").get_data(as_text=True)

    assert tile(html, "drafts")[0] == 2
    assert oldest_draft in tile(html, "drafts")[1] and "3 小时 5 分钟" in tile(html, "drafts")[1]
    count, text = tile(html, "returned")
    assert count == 1 and returned in text and "联系地址与证件地址不一致，请核对" in text
    assert tile(html, "in_review") == (1, tile(html, "in_review")[1]) and in_review in tile(html, "in_review")[1]
    assert tile(html, "waiting")[0] == 2
    for key, reference in (("accounts_opening", opening), ("return_visit", waiting)):
        line = re.search(rf'<p id="waiting-{key}" data-count="(\d+)">(.*?)</p>', html, re.S)
        assert line.group(1) == "1" and reference in line.group(2)
    assert 'id="my-drafts"' in html  # the to-do table stays

    listing = clerk.get("/work/returned")
    assert listing.status_code == 200
    assert returned in listing.get_data(as_text=True) and "联系地址与证件地址不一致" in listing.get_data(as_text=True)
    mine = clerk.get("/work/drafts").get_data(as_text=True)
    assert oldest_draft in mine and mine.index(oldest_draft) < mine.index("继续办理")
    assert clerk.get("/work/nonsense").status_code == 404


@pytest.fixture
def branch_work(app):
    """A branch with work in every queue: reviews, visits, a refusal, openings today and yesterday."""
    clerk = login_as(app, "clerk")
    refs = {}
    refs["r1"] = submit(app, clerk, "clerk", "r1", "311")
    refs["r2"] = submit(app, clerk, "clerk", "r2", "313")
    backdate_status(app, refs["r1"], "submitted", days=2, hours=1)
    for key, seq in (("A", "315"), ("B", "317"), ("C", "319"), ("D", "331")):
        refs[key] = submit(app, clerk, "clerk", key, seq)
    with app.app_context():
        _application(refs["B"]).channel = "witness"
        db.session.commit()
    for key in ("A", "B", "C"):
        approve(app, refs[key])
    deliver(app)
    approve(app, refs["D"])
    app.extensions["depository_bank"].faults.reject_next("银行卡已挂失")
    deliver(app)
    visit(app, refs["A"], "not_reached")
    visit(app, refs["A"], "passed")
    visit(app, refs["B"], "failed", "客户表示并非本人意愿")
    start, _end = home_services.beijing_day_in_utc(business_today())
    with app.app_context():
        by_ref = {key: _application(ref).id for key, ref in refs.items()}
        db.session.execute(update(FundAccount).where(FundAccount.application_id == by_ref["C"])
                           .values(opened_at=start - timedelta(minutes=1)))  # yesterday, Beijing time
        db.session.execute(update(FundAccount).where(FundAccount.application_id == by_ref["D"])
                           .values(opened_at=start + timedelta(minutes=1)))  # just after midnight, Beijing time
        agent = db.session.scalar(select(Staff).where(Staff.username == "visitor"))
        db.session.add(ReturnVisit(application_id=by_ref["C"], attempt_no=1, agent_id=agent.id, outcome="passed",
                                   items=[], visited_at=utcnow() - timedelta(days=40)))  # outside the 30 days
        db.session.commit()
    # Another branch's work.
    shanghai = login_as(app, "clerk_sh")
    refs["sh"] = submit(app, shanghai, "clerk_sh", "sh", "333")
    return refs


def test_the_branch_manager_sees_the_branch_queues_today_by_channel_and_the_pass_rate(app, branch_work):
    manager = login_as(app, "manager")

    html = manager.get("/").get_data(as_text=True)

    count, text = tile(html, "in_review")
    assert count == 2 and branch_work["r1"] in text and "2 天 1 小时" in text
    # B's failed call leaves it in the queue for another attempt (within the attempt limit).
    assert tile(html, "return_visit")[0] == 2 and branch_work["B"] in tile(html, "return_visit")[1]
    exceptions = re.search(r'id="tile-exceptions" data-rejected="(\d+)" data-failing="(\d+)">(.*?)</section>', html, re.S)
    assert exceptions.groups()[:2] == ("1", "0") and branch_work["D"] in exceptions.group(3)
    assert tile(html, "accounts_opening")[0] == 1
    page = page_of(manager.get("/"))
    assert re.search(r'id="openings-onsite">2 户<', page.html)
    assert re.search(r'id="openings-witness">1 户<', page.html)
    assert re.search(r'id="openings-total"><strong>3 户<', page.html)
    assert 'id="pass-rate-value">33.3%<' in page.html
    assert "通过 1 次 / 回访 3 次" in page.html
    longest = re.sub(r"<[^>]+>", "", re.search(r'id="longest-waiting">(.*?)</div>', html, re.S).group(1))
    assert "待复核" in longest and branch_work["r1"] in longest and "2 天 1 小时" in longest
    assert branch_work["sh"] not in html
    assert 'id="branch-breakdown"' not in html  # a manager sees only the branch

    listing = manager.get("/work/in_review").get_data(as_text=True)
    assert branch_work["r1"] in listing and branch_work["r2"] in listing and branch_work["sh"] not in listing
    assert listing.index(branch_work["r1"]) < listing.index(branch_work["r2"])
    assert manager.get("/work/drafts").status_code == 404


def test_hq_sees_the_same_across_branches_with_a_line_per_branch(app, branch_work):
    admin = login_as(app, "admin")

    html = admin.get("/").get_data(as_text=True)

    assert tile(html, "in_review")[0] == 3
    longest = re.sub(r"<[^>]+>", "", re.search(r'id="longest-waiting">(.*?)</div>', html, re.S).group(1))
    assert "北京朝阳门营业部 · 待复核" in longest and branch_work["r1"] in longest
    rows = {code: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
            for code, row in re.findall(r'<tr data-branch="(\d+)">(.*?)</tr>', html, re.S)}
    assert set(rows) == {"0101", "0201"}
    beijing = re.search(r'class="n-review">(\d+)<', re.search(r'data-branch="0101">(.*?)</tr>', html, re.S).group(1))
    shanghai = re.search(r'class="n-review">(\d+)<', re.search(r'data-branch="0201">(.*?)</tr>', html, re.S).group(1))
    assert (beijing.group(1), shanghai.group(1)) == ("2", "1")
    assert "33.3%" in rows["0101"] and "2 / 1" in rows["0101"] and "1 / 0" in rows["0101"]
    assert "0 / 0" in rows["0201"] and "—" in rows["0201"]
    listing = admin.get("/work/in_review").get_data(as_text=True)
    assert branch_work["sh"] in listing and "上海浦东营业部" in listing


def test_a_reviewer_sees_the_branch_review_queue(app, branch_work):
    reviewer = login_as(app, "reviewer")

    html = reviewer.get("/").get_data(as_text=True)

    count, text = tile(html, "in_review")
    assert count == 2 and "2 天 1 小时" in text
    assert reviewer.get("/work/in_review").status_code == 403


def test_a_return_visit_agent_sees_the_accounts_awaiting_a_visit(app, branch_work):
    agent = login_as(app, "visitor")

    html = agent.get("/").get_data(as_text=True)

    assert tile(html, "return_visit")[0] == 2  # C, and B after its failed call
    assert "其中已回访未成功、待再次回访 1 户" in html


def test_an_archivist_sees_exports_and_recent_lending(app):
    archivist = login_as(app, "archivist")
    with app.app_context():
        me = db.session.scalar(select(Staff).where(Staff.username == "archivist"))
        shanghai = db.session.scalar(select(Branch).where(Branch.code == "0201"))
        other = db.session.scalar(select(Staff).where(Staff.username == "clerk_sh"))
        for status in ("queued", "running", "done", "done", "failed"):
            db.session.add(ExportJob(requested_by_id=me.id, branch_id=me.branch_id, date_from=date(2026, 1, 1),
                                     date_to=date(2026, 1, 31), purpose="年度检查", status=status,
                                     finished_at=utcnow() if status in ("done", "failed") else None))
        for action, days in (("view", 1), ("view", 2), ("download", 3), ("view", 10)):
            db.session.add(LendingRecord(staff_id=me.id, branch_id=me.branch_id, action=action, purpose="核对",
                                         at=utcnow() - timedelta(days=days)))
        db.session.add(LendingRecord(staff_id=other.id, branch_id=shanghai.id, action="view", purpose="核对"))
        db.session.commit()

    html = archivist.get("/").get_data(as_text=True)

    assert 'id="exports-running">2<' in html and 'id="exports-done">2<' in html and 'id="exports-failed">1<' in html
    assert 'id="lending-count">3<' in html and "查阅 2 · 下载 1" in html


def test_waiting_is_said_in_the_largest_two_units():
    from datetime import datetime

    from blueprints.home.durations import waited_label

    now = datetime(2026, 12, 1, 12, 0)
    assert waited_label(now - timedelta(seconds=20), now) == "不到 1 分钟"
    assert waited_label(now - timedelta(minutes=45), now) == "45 分钟"
    assert waited_label(now - timedelta(hours=2), now) == "2 小时"
    assert waited_label(now - timedelta(hours=3, minutes=5), now) == "3 小时 5 分钟"
    assert waited_label(now - timedelta(days=2, hours=1, minutes=59), now) == "2 天 1 小时"
    assert waited_label(now + timedelta(minutes=5), now) == "不到 1 分钟"
    assert waited_label(None, now) == "—"


def test_beijing_today_starts_at_sixteen_hundred_utc_the_day_before():
    from datetime import datetime

    start, end = home_services.beijing_day_in_utc(date(2026, 12, 1))
    assert (start, end) == (datetime(2026, 11, 30, 16, 0), datetime(2026, 12, 1, 16, 0))
