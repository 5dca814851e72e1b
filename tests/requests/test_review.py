"""The reviewer's queue, the review page and the decisions (复核): who may decide, and what a decision does."""
import base64
import io
import re

import pytest
from sqlalchemy import func, select, update

from blueprints.accounts.models import FundAccount
from blueprints.opening.models import Application, ApplicationStep
from blueprints.review.models import ReviewDecision
from core.extensions import db
from core.models import AuditEvent
from core.outbox import OutboxMessage
from core.roles import Role
from core.storage import LocalStore
from tests import factories
from tests.requests.helpers import add_staff, application_row, login_as, page_of, staff_id, status_changes

NON_REVIEWERS = ["clerk", "witness", "marketing", "visitor", "archivist", "manager", "admin"]
# Different customers, so one clerk can have several applications in review at once.
SECOND_ID = factories.make_id("110105", "19880612", "317")
THIRD_ID = factories.make_id("110105", "19880612", "319")


def submit(app, username="clerk", token=None, **overrides):
    """An application entered by `username` and submitted for review; returns (auth, reference)."""
    auth = login_as(app, username)
    reference = factories.start(auth, token or f"tok-{username}")
    factories.walk_with(auth, reference, "summary", staff_id(app, username), **overrides)
    response = auth.post(factories.step_url(reference, "summary"))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return auth, reference


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082")
# A second, different image for the customer's signature (a 1x1 PNG with another pixel).
SIGNATURE_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944"
                              "4154789c631011110100007c003d928027db0000000049454e44ae426082")


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path)))
    return tmp_path


def witness_step(app, present=("witness", "clerk"), witness="witness", **overrides) -> dict:
    """The witness step as a tablet posts it: two staff in person, photo, signature, place and position."""
    data = {"present": [str(staff_id(app, u)) for u in present], "mode": "in_person",
            "witness_id": str(staff_id(app, witness)), "place": "北京市朝阳区光华路1号 客户办公室",
            "photo_consent": "y", "work_id_shown": "y", "latitude": "39.9139", "longitude": "116.4551",
            "signature": "data:image/png;base64," + base64.b64encode(SIGNATURE_PNG).decode(),
            "photo": (io.BytesIO(PNG), "photo.png")}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def submit_witness(app, username="witness", token="tok-w", identity=None, **witness_overrides):
    """A witness opening (见证开户) entered by `username` and submitted; returns (auth, reference)."""
    auth = login_as(app, username)
    response = auth.post("/opening/new", {"channel": "witness", "customer_type": "individual", "client_token": token})
    assert response.status_code == 303
    reference = response.headers["Location"].split("/")[2]
    data = factories.payloads(staff_id(app, username))
    data["identity"] = identity or data["identity"]
    for key in ("identity", "contact", "verification", "agent", "documents", "disclosure", "suitability", "agreements"):
        assert auth.post(factories.step_url(reference, key), data[key]).status_code == 303, key
    response = auth.post(factories.step_url(reference, "witness"), witness_step(app, **witness_overrides),
                         content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert auth.post(factories.step_url(reference, "summary")).status_code == 303
    return auth, reference


def options_of(body: str, name: str) -> list[tuple[str, str]]:
    """(value, label) of every option of the select called `name`."""
    select_html = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', body, re.S).group(1)
    return re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select_html)


def customer(id_number, name):
    return {"identity": factories.identity(id_number=id_number, name=name)}


def decisions_of(app, reference):
    with app.app_context():
        return list(db.session.scalars(
            select(ReviewDecision).join(Application, Application.id == ReviewDecision.application_id)
            .where(Application.reference == reference).order_by(ReviewDecision.id)))


def count_for(app, model, reference):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)
                                 .join(Application, Application.id == model.application_id)
                                 .where(Application.reference == reference))


def reject_data(**overrides):
    data = {"reason": "联系地址与证件地址不符，请核实", "return_step": "contact"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def rows_of(body: str) -> list[str]:
    """The references of the queue rows, in the order shown."""
    return [line.split('data-reference="')[1].split('"')[0] for line in body.splitlines() if 'data-reference="' in line]


# --- the queue -----------------------------------------------------------------------------------

def test_queue_shows_only_the_branchs_submitted_applications_oldest_first(app):
    _clerk, first = submit(app, token="a")
    _clerk, second = submit(app, token="b", **customer(SECOND_ID, "赵小红"))
    draft_clerk = login_as(app, "clerk")
    draft = factories.start(draft_clerk, "c")
    _sh, shanghai = submit(app, "clerk_sh", **customer(THIRD_ID, "孙大伟"))

    response = login_as(app, "reviewer").get("/review/")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert rows_of(body) == [first, second]
    assert draft not in body and shanghai not in body
    # Names are masked; the entering clerk, status and a link to the review page are shown.
    assert "刘**" in body and "赵**" in body and "刘晓明" not in body
    assert "王柜员" in body and "待复核" in body
    assert f"/review/{first}" in page_of(response).urls


def test_queue_filters_by_reference_and_status(app):
    _clerk, first = submit(app, token="a")
    _clerk, second = submit(app, token="b", **customer(SECOND_ID, "赵小红"))
    reviewer = login_as(app, "reviewer")

    assert rows_of(reviewer.get(f"/review/?q={second[-6:]}").get_data(as_text=True)) == [second]
    assert rows_of(reviewer.get(f"/review/?q={first.lower()}").get_data(as_text=True)) == [first]
    assert rows_of(reviewer.get("/review/?status=submitted").get_data(as_text=True)) == [first, second]
    empty = reviewer.get("/review/?status=resubmitted").get_data(as_text=True)
    assert rows_of(empty) == [] and "暂无待复核的开户申请" in empty
    # An unknown status filters nothing rather than failing.
    assert rows_of(reviewer.get("/review/?status=bogus").get_data(as_text=True)) == [first, second]


def test_queue_search_from_htmx_returns_only_the_table(app):
    _clerk, reference = submit(app)
    response = login_as(app, "reviewer").get(f"/review/?q={reference}", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="queue-table">') and "<html" not in body
    assert rows_of(body) == [reference]
    assert "HX-Request" in response.headers["Vary"]


def set_submitted_at(app, reference, moment):
    with app.app_context():
        db.session.execute(update(Application).where(Application.reference == reference).values(submitted_at=moment))
        db.session.commit()


def test_queue_filters_by_channel_and_names_the_submitters_role(app, file_store):
    _clerk, onsite = submit(app, **customer(SECOND_ID, "赵小红"))
    _witness, remote = submit_witness(app)
    reviewer = login_as(app, "reviewer")
    assert rows_of(reviewer.get("/review/").get_data(as_text=True)) == [onsite, remote]
    assert rows_of(reviewer.get("/review/?channel=witness").get_data(as_text=True)) == [remote]
    assert rows_of(reviewer.get("/review/?channel=onsite").get_data(as_text=True)) == [onsite]
    body = reviewer.get("/review/").get_data(as_text=True)
    row = {ref: body.split(f'data-reference="{ref}"')[1].split("</tr>")[0] for ref in (onsite, remote)}
    assert "现场开户" in row[onsite] and "王柜员" in row[onsite] and "柜台业务岗" in row[onsite]
    assert "见证开户" in row[remote] and "赵见证" in row[remote] and "见证人员" in row[remote]


def test_queue_filters_by_the_beijing_dates_of_submission(app):
    from datetime import datetime

    _clerk, early = submit(app, token="a")
    _clerk, late = submit(app, token="b", **customer(SECOND_ID, "赵小红"))
    # 2026-11-30 17:30 UTC is 2026-12-01 01:30 in Beijing.
    set_submitted_at(app, early, datetime(2026, 11, 20, 2, 0))
    set_submitted_at(app, late, datetime(2026, 11, 30, 17, 30))
    reviewer = login_as(app, "reviewer")
    assert rows_of(reviewer.get("/review/?submitted_from=2026-12-01").get_data(as_text=True)) == [late]
    assert rows_of(reviewer.get("/review/?submitted_to=2026-11-30").get_data(as_text=True)) == [early]
    both = "/review/?submitted_from=2026-11-20&submitted_to=2026-12-01"
    assert rows_of(reviewer.get(both).get_data(as_text=True)) == [early, late]


@pytest.mark.parametrize("query, field, message", [
    ("submitted_from=2026-13-01", "submitted_from", "请输入正确的日期（年-月-日）"),
    ("submitted_to=昨天", "submitted_to", "请输入正确的日期（年-月-日）"),
    ("submitted_from=2026-12-05&submitted_to=2026-12-01", "submitted_to", "结束日期不能早于开始日期"),
])
def test_queue_filters_that_cannot_be_used_are_refused_next_to_the_field(app, query, field, message):
    _clerk, reference = submit(app)
    reviewer = login_as(app, "reviewer")
    response = reviewer.get(f"/review/?channel=onsite&{query}")
    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for(field) == [message]
    assert page.select_value("channel") == "onsite"  # nothing typed is lost
    typed = dict(part.split("=") for part in query.split("&"))
    assert all(page.value(name) == value for name, value in typed.items())
    assert rows_of(response.get_data(as_text=True)) == []
    # From htmx the answer replaces the filters, where the message belongs.
    fragment = reviewer.get(f"/review/?{query}", htmx=True)
    assert fragment.status_code == 422 and fragment.headers["HX-Retarget"] == "#queue-filters"
    assert fragment.get_data(as_text=True).lstrip().startswith("<form")


def test_queue_filters_applications_returned_before(app):
    clerk, returned = submit(app, token="a")
    _clerk, fresh = submit(app, token="b", **customer(SECOND_ID, "赵小红"))
    reviewer = login_as(app, "reviewer")
    assert reviewer.post(f"/review/{returned}/reject", reject_data()).status_code == 303
    assert clerk.post(factories.step_url(returned, "contact"), factories.contact(postcode="100020")).status_code == 303
    assert clerk.post(factories.step_url(returned, "summary")).status_code == 303

    assert rows_of(reviewer.get("/review/?returned=yes").get_data(as_text=True)) == [returned]
    assert rows_of(reviewer.get("/review/?returned=no").get_data(as_text=True)) == [fresh]
    body = reviewer.get("/review/").get_data(as_text=True)
    assert "曾退回" in body.split(f'data-reference="{returned}"')[1].split("</tr>")[0]
    assert "曾退回" not in body.split(f'data-reference="{fresh}"')[1].split("</tr>")[0]


def test_queue_counts_by_status_and_pages_in_the_database(app, monkeypatch):
    monkeypatch.setitem(app.config, "REVIEW_INBOX_PAGE_SIZE", 2)
    clerk, returned = submit(app, token="a")
    _clerk, second = submit(app, token="b", **customer(SECOND_ID, "赵小红"))
    _clerk, third = submit(app, token="c", **customer(THIRD_ID, "孙大伟"))
    reviewer = login_as(app, "reviewer")
    assert reviewer.post(f"/review/{returned}/reject", reject_data()).status_code == 303
    assert clerk.post(factories.step_url(returned, "contact"), factories.contact(postcode="100020")).status_code == 303
    assert clerk.post(factories.step_url(returned, "summary")).status_code == 303

    first_page = reviewer.get("/review/?channel=onsite")
    body = first_page.get_data(as_text=True)
    counts = body.split('id="queue-counts"')[1].split("</p>")[0]
    assert '待复核 <strong>2</strong>' in counts and "重新提交待复核 <strong>1</strong>" in counts
    assert "符合条件共 <strong>3</strong> 笔" in counts
    assert rows_of(body) == [second, third]  # oldest submission first: the resubmission is newest
    assert "下一页" in body and "回到第一页" not in body
    next_url = next(u for u in page_of(first_page).urls if "after=" in u)
    assert "channel=onsite" in next_url  # the filters ride along
    assert rows_of(reviewer.get(next_url).get_data(as_text=True)) == [returned]
    # A status filter narrows the rows; the counts stay those of every status.
    only = reviewer.get("/review/?status=resubmitted").get_data(as_text=True)
    assert rows_of(only) == [returned] and "符合条件共 <strong>3</strong> 笔" in only
    last = reviewer.get(next_url).get_data(as_text=True)
    assert "已是最后一页" in last and "回到第一页" in last
    # A tampered cursor starts over at the first page.
    assert rows_of(reviewer.get("/review/?after=tampered").get_data(as_text=True)) == [second, third]
    reviewer.get(next_url)
    with app.app_context():
        listed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "review.inbox")
                                    .order_by(AuditEvent.id.desc())).first()
    assert listed.detail == {"first_page": False, "shown": 1, "filters": {"channel": "onsite"}}


def test_hq_reviewer_sees_every_branch_and_can_narrow_to_one(app):
    add_staff(app, "reviewer_hq", Role.REVIEWER, "0000", "总部复核")
    _bj, beijing = submit(app)
    _sh, shanghai = submit(app, "clerk_sh", **customer(THIRD_ID, "孙大伟"))
    hq = login_as(app, "reviewer_hq")
    body = hq.get("/review/").get_data(as_text=True)
    assert rows_of(body) == [beijing, shanghai] and "上海浦东营业部" in body
    shanghai_id = application_row(app, shanghai)["branch_id"]
    assert rows_of(hq.get(f"/review/?branch={shanghai_id}").get_data(as_text=True)) == [shanghai]
    # A branch's reviewer is not offered branches, and a branch in the URL changes nothing.
    branch_reviewer = login_as(app, "reviewer")
    assert 'name="branch"' not in branch_reviewer.get("/review/").get_data(as_text=True)
    assert rows_of(branch_reviewer.get(f"/review/?branch={shanghai_id}").get_data(as_text=True)) == [beijing]


def test_inbox_summary_counts_what_waits_and_the_oldest_submission(app):
    from datetime import datetime

    from blueprints.auth.models import Staff
    from blueprints.review import services

    _clerk, first = submit(app, token="a")
    _clerk, second = submit(app, token="b", **customer(SECOND_ID, "赵小红"))
    set_submitted_at(app, first, datetime(2026, 11, 20, 2, 0))
    with app.app_context():
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        shanghai = db.session.scalar(select(Staff).where(Staff.username == "clerk_sh"))
        assert services.inbox_summary(reviewer) == services.InboxSummary(2, datetime(2026, 11, 20, 2, 0))
        assert services.inbox_summary(shanghai) == services.InboxSummary(0, None)


# --- take and release (认领/释放) -----------------------------------------------------------------

def claims_of(app, reference):
    from blueprints.review.models import ReviewClaim

    with app.app_context():
        return [(c.reviewer.username, c.claimed_at, c.expires_at) for c in db.session.scalars(
            select(ReviewClaim).join(Application, Application.id == ReviewClaim.application_id)
            .where(Application.reference == reference))]


def test_a_reviewer_takes_an_application_and_others_see_who_holds_it(app):
    add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    _clerk, reference = submit(app)
    first, second = login_as(app, "reviewer"), login_as(app, "reviewer2")
    queue = first.get("/review/").get_data(as_text=True)
    assert f"/review/{reference}/claim" in queue and "未认领" in queue

    response = first.post(f"/review/{reference}/claim")
    assert response.status_code == 303 and response.headers["Location"] == f"/review/{reference}"
    assert "您已认领" in first.get(f"/review/{reference}").get_data(as_text=True)
    [(holder, claimed_at, expires_at)] = claims_of(app, reference)
    assert holder == "reviewer" and (expires_at - claimed_at).total_seconds() == 30 * 60

    row = second.get("/review/").get_data(as_text=True).split(f'data-reference="{reference}"')[1].split("</tr>")[0]
    assert 'data-claimed-by="reviewer"' in row and "李复核" in row and " 起" in row
    assert f"/review/{reference}/claim" not in row
    page = second.get(f"/review/{reference}").get_data(as_text=True)
    assert "李复核</strong> 已于" in page and f"/review/{reference}/approve" not in page
    assert "其他复核人员不能认领或作出结论" in page

    for attempt in (second.post(f"/review/{reference}/claim"), second.post(f"/review/{reference}/approve"),
                    second.post(f"/review/{reference}/reject", reject_data())):
        assert attempt.status_code == 409
        assert "已由李复核" in attempt.get_data(as_text=True) and "认领复核" in attempt.get_data(as_text=True)
    assert decisions_of(app, reference) == [] and [c[0] for c in claims_of(app, reference)] == ["reviewer"]
    # The holder decides; the decision ends the claim.
    assert first.post(f"/review/{reference}/approve").status_code == 303
    assert claims_of(app, reference) == []


def test_the_holder_releases_and_then_another_reviewer_may_take(app):
    add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    _clerk, reference = submit(app)
    first, second = login_as(app, "reviewer"), login_as(app, "reviewer2")
    assert first.post(f"/review/{reference}/claim").status_code == 303
    assert second.post(f"/review/{reference}/release").status_code == 409  # only the holder releases
    response = first.post(f"/review/{reference}/release")
    assert response.status_code == 303 and response.headers["Location"] == "/review/"
    assert claims_of(app, reference) == []
    assert second.post(f"/review/{reference}/claim").status_code == 303
    assert [c[0] for c in claims_of(app, reference)] == ["reviewer2"]
    assert audit_events(app, "application.release", reference) == [(staff_id(app, "reviewer"), {})]
    assert [actor for actor, _ in audit_events(app, "application.claim", reference)] == \
        [staff_id(app, "reviewer"), staff_id(app, "reviewer2")]


def test_a_claim_expires_after_the_setting(app, monkeypatch):
    from datetime import timedelta

    from blueprints.review.models import ReviewClaim
    from core.timeutil import utcnow

    monkeypatch.setitem(app.config, "REVIEW_CLAIM_MINUTES", 5)
    add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    _clerk, reference = submit(app)
    first, second = login_as(app, "reviewer"), login_as(app, "reviewer2")
    assert first.post(f"/review/{reference}/claim").status_code == 303
    [(_holder, claimed_at, expires_at)] = claims_of(app, reference)
    assert expires_at - claimed_at == timedelta(minutes=5)
    assert second.post(f"/review/{reference}/claim").status_code == 409
    with app.app_context():
        db.session.execute(update(ReviewClaim).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert "未认领" in second.get("/review/").get_data(as_text=True)
    assert second.post(f"/review/{reference}/claim").status_code == 303
    [(holder, new_claimed_at, _expires)] = claims_of(app, reference)
    assert holder == "reviewer2" and new_claimed_at > claimed_at
    assert first.post(f"/review/{reference}/approve").status_code == 409


def test_renewing_ones_own_claim_keeps_since_when(app):
    _clerk, reference = submit(app)
    reviewer = login_as(app, "reviewer")
    assert reviewer.post(f"/review/{reference}/claim").status_code == 303
    [(_h, claimed_at, expires_at)] = claims_of(app, reference)
    assert reviewer.post(f"/review/{reference}/claim").status_code == 303
    [(_h, renewed_claimed_at, renewed_expires_at)] = claims_of(app, reference)
    assert renewed_claimed_at == claimed_at and renewed_expires_at >= expires_at


def test_deciding_a_free_application_takes_and_ends_the_claim_implicitly(app):
    _clerk, reference = submit(app)
    reviewer = login_as(app, "reviewer")
    assert "直接作出结论时系统自动认领" in reviewer.get(f"/review/{reference}").get_data(as_text=True)
    assert reviewer.post(f"/review/{reference}/reject", reject_data()).status_code == 303
    assert claims_of(app, reference) == [] and len(decisions_of(app, reference)) == 1


def test_who_may_not_decide_may_not_take(app):
    editor_id = add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    _clerk, reference = submit(app)
    with app.app_context():
        application_id = db.session.scalar(select(Application.id).where(Application.reference == reference))
        db.session.execute(update(ApplicationStep).where(ApplicationStep.application_id == application_id,
                                                         ApplicationStep.step == "contact")
                           .values(saved_by_id=editor_id))
        db.session.commit()
    response = login_as(app, "reviewer2").post(f"/review/{reference}/claim")
    assert response.status_code == 403 and "不能复核自己经办的业务" in response.get_data(as_text=True)
    reviewer = login_as(app, "reviewer")
    assert reviewer.post(f"/review/{reference}/approve").status_code == 303
    decided = reviewer.post(f"/review/{reference}/claim")
    assert decided.status_code == 409 and "无需重复复核" in decided.get_data(as_text=True)
    assert claims_of(app, reference) == []
    assert login_as(app, "clerk").post(f"/review/{reference}/claim").status_code == 403


def test_two_reviewers_taking_at_once_get_exactly_one_claim(app):
    from tests.concurrency.test_concurrent_requests import _race

    add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    _clerk, reference = submit(app)
    first, second = login_as(app, "reviewer"), login_as(app, "reviewer2")
    url = f"/review/{reference}/claim"

    responses = _race([lambda: first.post(url), lambda: second.post(url)])

    assert sorted(r.status_code for r in responses) == [303, 409]
    winner = "reviewer" if responses[0].status_code == 303 else "reviewer2"
    assert [c[0] for c in claims_of(app, reference)] == [winner]
    loser = responses[1] if winner == "reviewer" else responses[0]
    assert "认领复核" in loser.get_data(as_text=True)


def test_a_take_that_loses_the_race_for_the_row_is_refused(app):
    """The unique row decides: a reviewer whose read saw no claim still cannot insert a second one."""
    from blueprints.auth.models import Staff
    from blueprints.review import services
    from blueprints.review.models import ReviewClaim
    from core.timeutil import utcnow

    add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    _clerk, reference = submit(app)
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        first = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        second = db.session.scalar(select(Staff).where(Staff.username == "reviewer2"))
        assert services.refusal_reason(application, second) is None  # what the loser saw before writing
        from datetime import timedelta

        db.session.add(ReviewClaim(application_id=application.id, reviewer_id=first.id, claimed_at=utcnow(),
                                   expires_at=utcnow() + timedelta(minutes=30)))
        db.session.flush()
        assert services._hold(application, second) is False
        assert services._hold(application, first) is True
        db.session.rollback()


# --- roles and branches --------------------------------------------------------------------------

@pytest.mark.parametrize("username", NON_REVIEWERS)
def test_non_reviewers_get_403_on_every_review_screen(app, username):
    _clerk, reference = submit(app)
    other = login_as(app, username)
    assert other.get("/review/").status_code == 403
    assert other.get(f"/review/{reference}").status_code == 403
    assert other.post(f"/review/{reference}/approve").status_code == 403
    assert other.post(f"/review/{reference}/reject", reject_data()).status_code == 403
    assert application_row(app, reference)["status"] == "submitted"
    assert decisions_of(app, reference) == []


def test_reviewer_of_another_branch_gets_404(app):
    add_staff(app, "reviewer_sh", Role.REVIEWER, "0201", "上海复核")
    _clerk, reference = submit(app)
    shanghai = login_as(app, "reviewer_sh")
    assert reference not in shanghai.get("/review/").get_data(as_text=True)
    for response in (shanghai.get(f"/review/{reference}"), shanghai.post(f"/review/{reference}/approve"),
                     shanghai.post(f"/review/{reference}/reject", reject_data())):
        assert response.status_code == 404
        assert "不属于您的营业部" in response.get_data(as_text=True)
    assert application_row(app, reference)["status"] == "submitted"
    assert decisions_of(app, reference) == []


def test_unknown_reference_is_404(app):
    reviewer = login_as(app, "reviewer")
    assert reviewer.get("/review/KH20260101000000").status_code == 404
    assert reviewer.post("/review/not-a-reference/approve").status_code == 404


# --- the review page -----------------------------------------------------------------------------

def test_review_page_shows_the_whole_application_and_is_audited(app):
    _clerk, reference = submit(app)
    response = login_as(app, "reviewer").get(f"/review/{reference}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    # Every field, with the full ID number (the reviewer checks it against the document).
    assert "刘晓明" in body and factories.CUSTOMER_ID in body and "北京市公安局朝阳分局" in body
    # The identity check, marked as simulated.
    assert 'id="review-verification"' in body and "模拟" in body
    # Every question with the chosen option's text and score.
    for question in factories.QUESTIONNAIRE["questions"]:
        chosen = factories.answers()[question["key"]]
        option = next(o for o in question["options"] if o["key"] == chosen)
        assert question["text"] in body
        assert f"{option['key']}. {option['text']}" in body
    # The ID scans captured during opening, each with its own decision.
    assert "客户身份证件正面（人像面）" in body and "客户身份证件反面（国徽面）" in body
    assert "首次复核" in body
    assert "草稿" in body and "待复核" in body  # the status history
    page = page_of(response)
    assert f"/review/{reference}/approve" in page.urls and f"/review/{reference}/reject" in page.urls

    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "application.view",
                                                                  AuditEvent.object_id == reference)))
    assert [(e.actor_id, e.detail) for e in events] == [(staff_id(app, "reviewer"), {"step": "review"})]


def test_review_page_of_a_decided_application_shows_the_decision_not_the_buttons(app):
    _clerk, reference = submit(app)
    reviewer = login_as(app, "reviewer")
    assert reviewer.post(f"/review/{reference}/approve").status_code == 303
    body = reviewer.get(f"/review/{reference}").get_data(as_text=True)
    assert "无需重复复核" in body
    assert f"/review/{reference}/approve" not in body
    assert "复核通过" in body and "李复核" in body


# --- the witness record and what a reviewer checks ----------------------------------------------

def audit_events(app, action, reference):
    with app.app_context():
        return [(e.actor_id, e.detail) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.object_id == reference)
            .order_by(AuditEvent.id))]


def test_review_page_of_a_witness_application_shows_the_witness_record(app, file_store):
    _witness, reference = submit_witness(app)
    response = login_as(app, "reviewer").get(f"/review/{reference}")
    body = response.get_data(as_text=True)
    record = body.split(f'data-witness-record="{reference}"')[1].split("</section>")[0]
    # Who met the customer, with roles; the witness with the qualification number; mode, place, position, time.
    assert "赵见证（开户见证人员）" in record and "王柜员（柜台业务岗）" in record and "共 2 人" in record
    assert "证券从业资格 S0101200002" in record
    assert "现场见证" in record and "两名及以上工作人员当面见证" in record
    assert "北京市朝阳区光华路1号 客户办公室" in record and "北纬 39.91390，东经 116.45510" in record
    assert 'data-field="met_at">20' in record  # a Beijing time, not "—"
    assert "已向客户出示工作证件" in record and "客户已单独同意采集" in record
    # The photo and the signature as images, from the authenticated route.
    urls = page_of(response).urls
    assert f"/review/{reference}/witness/photo" in urls and f"/review/{reference}/witness/signature" in urls
    assert f'<img src="/review/{reference}/witness/photo"' in record
    # 影像资料 lists them, beside the ID document scans with their per-document decisions.
    images = body.split('id="review-images"')[1].split("</section>")[0]
    assert "见证现场合影" in images and "客户手写签名" in images
    assert 'id="review-documents"' in images and "客户身份证件正面" in images


def test_review_page_shows_everything_the_reviewer_checks(app):
    _clerk, reference = submit(app, agent_data=factories.resident_agent())
    body = login_as(app, "reviewer").get(f"/review/{reference}").get_data(as_text=True)
    # 第六条: the agent, the authorisation and the notarisation.
    assert "刘建华" in body and "SQ-2026-0001" in body and "(2026)京长安内经证字第1234号" in body
    # 第七条: the disclosure, who explained it, both signatures.
    disclosure = body.split('id="summary-disclosure"')[1].split("</dl>")[0]
    assert "王柜员（柜台业务岗）" in disclosure and "客户已签字确认" in disclosure and "代理人已签字确认" in disclosure
    # 第八条: score, class, lowest class, expiry.
    assessment = body.split('id="summary-assessment"')[1].split("</dl>")[0]
    assert "分" in assessment and "最低类别" in assessment and "有效期至" in assessment
    # 第九、十二、十三条: agreements, the agreed change and closure methods, the consistency check.
    assert "《证券交易委托代理协议书》 已签署" in body
    methods = body.split('id="summary-methods"')[1].split("</dl>")[0]
    assert methods.count("本人持有效身份证件到营业部柜台办理") == 2
    assert "通过：姓名、证件类型、证件号码" in body.split('id="review-consistency"')[1][:200]
    # The verification with the simulated badge; on-site: no witness record, no images.
    assert 'id="review-verification"' in body and "badge-sim" in body
    # An on-site opening has no witness record; its ID scans are what 影像资料 shows.
    assert "data-witness-record" not in body and "客户身份证件正面（人像面）" in body
    assert "柜台业务岗 王柜员 录入" in body and "现场开户" in body


def test_review_page_shows_a_consistency_conflict(app):
    _clerk, reference = submit(app)
    with app.app_context():
        factories.existing_customer("C0101999999", application_row(app, reference)["branch_id"], "刘晓敏",
                                    factories.CUSTOMER_ID)
        db.session.commit()
    body = login_as(app, "reviewer").get(f"/review/{reference}").get_data(as_text=True)
    consistency = body.split('id="review-consistency"')[1].split("</div>")[0]
    assert "不一致" in consistency and "C0101999999" in consistency


def test_a_remote_witness_shows_the_video_session(app, file_store):
    _witness, reference = submit_witness(app, present=("clerk",), witness="witness", mode="remote",
                                         video_reference="VC-20261125-0042")
    body = login_as(app, "reviewer").get(f"/review/{reference}").get_data(as_text=True)
    record = body.split(f'data-witness-record="{reference}"')[1].split("</section>")[0]
    assert "远程视频见证" in record and "会话编号 VC-20261125-0042 · 20" in record
    present = " ".join(record.split('data-field="present">')[1].split("</dd>")[0].split())
    assert present == '<span class="person">王柜员（柜台业务岗） · 从业资格 S0101190001</span> <span class="muted">共 1 人</span>'


def test_witness_images_are_served_to_the_branch_uncached_and_audited(app, file_store):
    _witness, reference = submit_witness(app)
    reviewer = login_as(app, "reviewer")
    photo = reviewer.get(f"/review/{reference}/witness/photo")
    assert photo.status_code == 200 and photo.data == PNG and photo.mimetype == "image/png"
    assert photo.headers["Cache-Control"] == "no-store" and "ETag" not in photo.headers
    signature = reviewer.get(f"/review/{reference}/witness/signature")
    assert signature.status_code == 200 and signature.data == SIGNATURE_PNG
    assert audit_events(app, "application.witness_image", reference) == [
        (staff_id(app, "reviewer"), {"image": "photo"}), (staff_id(app, "reviewer"), {"image": "signature"})]
    for username in ("clerk", "witness", "manager", "archivist", "admin"):
        assert login_as(app, username).get(f"/review/{reference}/witness/photo").status_code == 200, username


@pytest.mark.parametrize("username, status", [("clerk_sh", 404), ("marketing", 403), ("visitor", 403)])
def test_witness_images_are_refused_outside_the_branch_and_to_other_roles(app, file_store, username, status):
    _witness, reference = submit_witness(app)
    assert login_as(app, "reviewer").get(f"/review/{reference}/witness/photo").data == PNG
    response = login_as(app, username).get(f"/review/{reference}/witness/photo")
    assert response.status_code == status and response.data != PNG
    assert [actor for actor, _detail in audit_events(app, "application.witness_image", reference)] == \
        [staff_id(app, "reviewer")]


def test_only_the_two_images_recorded_on_the_application_are_served(app, file_store):
    _witness, witness_reference = submit_witness(app)
    _clerk, onsite = submit(app, **customer(SECOND_ID, "赵小红"))
    reviewer = login_as(app, "reviewer")
    assert reviewer.get(f"/review/{witness_reference}/witness/photo").data == PNG
    # The files exist in the store, but the on-site application recorded no witness images.
    assert reviewer.get(f"/review/{onsite}/witness/photo").status_code == 404
    assert reviewer.get(f"/review/{witness_reference}/witness/scan").status_code == 404
    assert reviewer.get(f"/review/{witness_reference}/witness/..%2Fphoto").status_code == 404


def test_detail_page_shows_the_witness_record(app, file_store):
    witness, reference = submit_witness(app)
    body = witness.get(f"/opening/{reference}/detail").get_data(as_text=True)
    assert f'data-witness-record="{reference}"' in body and "赵见证（开户见证人员）" in body
    assert f'<img src="/review/{reference}/witness/signature"' in body
    manager = login_as(app, "manager").get(f"/opening/{reference}/detail").get_data(as_text=True)
    assert "证券从业资格 S0101200002" in manager and "暂无影像资料" not in manager


def test_archive_file_shows_the_witness_record_and_its_images(app, file_store):
    from blueprints.auth.models import Staff
    from blueprints.customers.models import Customer
    from blueprints.review import services

    _witness, reference = submit_witness(app)
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        services.approve(application, reviewer, reviewer)
        db.session.commit()
        customer_no = db.session.scalar(factories.customer_named("刘晓明").with_only_columns(Customer.customer_no))
    archivist = login_as(app, "archivist")
    assert archivist.post(f"/archive/customers/{customer_no}", {"purpose": "业务核查", "detail": ""}).status_code == 303
    body = archivist.get(f"/archive/customers/{customer_no}").get_data(as_text=True)
    assert f'data-witness-record="{reference}"' in body and "赵见证（开户见证人员）" in body
    assert f'<img src="/review/{reference}/witness/photo"' in body
    images = body.split("<h2>影像资料</h2>")[1]
    assert "暂无影像资料" not in images and "见证现场合影" in images and "客户手写签名" in images


# --- approve -------------------------------------------------------------------------------------

def test_approve_opens_the_accounts(app):
    _clerk, reference = submit(app)
    reviewer = login_as(app, "reviewer")
    response = reviewer.post(f"/review/{reference}/approve")
    assert response.status_code == 303
    assert response.headers["Location"] == "/review/"
    assert "已复核通过" in reviewer.get("/review/").get_data(as_text=True)

    assert application_row(app, reference)["stage"] == "accounts_opening"
    [decision] = decisions_of(app, reference)
    reviewer_id = staff_id(app, "reviewer")
    assert (decision.decision, decision.reviewer_id, decision.operator_id, decision.same_terminal,
            decision.submission_no) == ("approve", reviewer_id, reviewer_id, False, 1)
    # The application's own lifecycle ends at approval: the accounts carry it on.
    assert status_changes(app, reference)[-1:] == [("submitted", "approved", "复核通过")]
    assert count_for(app, FundAccount, reference) == 1
    assert count_for(app, OutboxMessage, reference) == 2
    # The approved application leaves the queue.
    assert reference not in reviewer.get("/review/").get_data(as_text=True)


def test_approve_from_htmx_redirects_to_the_queue(app):
    _clerk, reference = submit(app)
    response = login_as(app, "reviewer").post(f"/review/{reference}/approve", htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/review/"
    assert application_row(app, reference)["stage"] == "accounts_opening"


def test_second_approval_is_a_conflict_with_a_clear_message(app):
    add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    _clerk, reference = submit(app)
    first, second = login_as(app, "reviewer"), login_as(app, "reviewer2")
    second.get(f"/review/{reference}")  # both have the page open
    assert first.post(f"/review/{reference}/approve").status_code == 303

    for auth in (second, first):
        response = auth.post(f"/review/{reference}/approve")
        assert response.status_code == 409
        body = response.get_data(as_text=True)
        assert "已由李复核" in body and "无需重复复核" in body
    response = second.post(f"/review/{reference}/reject", reject_data(), htmx=True)
    assert response.status_code == 409
    # htmx swaps the answer into the decision panel, not the flash area.
    assert response.headers["HX-Retarget"] == "#decision"
    assert response.get_data(as_text=True).lstrip().startswith('<section id="decision"')

    assert len(decisions_of(app, reference)) == 1
    assert count_for(app, FundAccount, reference) == 1
    assert application_row(app, reference)["stage"] == "accounts_opening"


def test_reviewer_who_edited_a_step_cannot_decide(app):
    editor_id = add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    _clerk, reference = submit(app)
    with app.app_context():
        application_id = db.session.scalar(select(Application.id).where(Application.reference == reference))
        db.session.execute(update(ApplicationStep).where(ApplicationStep.application_id == application_id,
                                                         ApplicationStep.step == "contact")
                           .values(saved_by_id=editor_id))
        db.session.commit()
    editor = login_as(app, "reviewer2")

    page = editor.get(f"/review/{reference}").get_data(as_text=True)
    assert "不能复核自己经办的业务" in page
    assert f"/review/{reference}/approve" not in page
    for response in (editor.post(f"/review/{reference}/approve"),
                     editor.post(f"/review/{reference}/reject", reject_data())):
        assert response.status_code == 403
        assert "不能复核自己经办的业务" in response.get_data(as_text=True)
    assert decisions_of(app, reference) == []
    assert application_row(app, reference)["status"] == "submitted"
    # Someone who did not touch it still may.
    assert login_as(app, "reviewer").post(f"/review/{reference}/approve").status_code == 303


# --- reject --------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, field, message", [
    (reject_data(reason=None), "reason", "退回须填写原因"),
    (reject_data(reason="   "), "reason", "退回须填写原因"),
    (reject_data(return_step=None), "return_step", "请选择需要修改的步骤"),
    (reject_data(return_step="summary"), "return_step", "请选择需要修改的步骤"),
    (reject_data(return_step="nonsense"), "return_step", "请选择需要修改的步骤"),
    (reject_data(reason="很长" * 300), "reason", "退回原因不超过500字"),
])
def test_reject_needs_a_reason_and_a_step(app, data, field, message):
    _clerk, reference = submit(app)
    response = login_as(app, "reviewer").post(f"/review/{reference}/reject", data)
    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for(field) == [message]
    assert decisions_of(app, reference) == []
    assert application_row(app, reference)["status"] == "submitted"


def test_reject_from_htmx_returns_the_decision_panel_with_the_typed_values(app):
    _clerk, reference = submit(app)
    response = login_as(app, "reviewer").post(f"/review/{reference}/reject", reject_data(reason=""), htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="decision"') and "<html" not in body
    page = page_of(response)
    assert page.errors_for("reason") == ["退回须填写原因"]
    assert page.select_value("return_step") == "contact"


def test_reject_records_the_reason_and_returns_the_application(app):
    clerk, reference = submit(app)
    reviewer = login_as(app, "reviewer")
    response = reviewer.post(f"/review/{reference}/reject", reject_data())
    assert response.status_code == 303 and response.headers["Location"] == "/review/"
    assert "已退回柜员" in reviewer.get("/review/").get_data(as_text=True)

    assert application_row(app, reference)["status"] == "rejected"
    [decision] = decisions_of(app, reference)
    assert (decision.decision, decision.reason, decision.return_step, decision.same_terminal) == \
        ("reject", "联系地址与证件地址不符，请核实", "contact", False)
    assert status_changes(app, reference)[-1] == ("submitted", "rejected", "联系地址与证件地址不符，请核实")
    assert count_for(app, FundAccount, reference) == 0
    # The clerk sees why, and where to correct it.
    body = clerk.get(f"/review/{reference}/same-terminal").get_data(as_text=True)
    assert "联系地址与证件地址不符" in body and "联系方式与基本信息" in body
    assert factories.step_url(reference, "contact") in body


def test_a_returned_application_cannot_go_back_unchanged(app):
    clerk, reference = submit(app)
    assert login_as(app, "reviewer").post(f"/review/{reference}/reject", reject_data()).status_code == 303

    response = clerk.post(factories.step_url(reference, "summary"))

    assert response.status_code == 422
    assert "请先按复核意见修改并保存“联系方式与基本信息”" in response.get_data(as_text=True)
    assert application_row(app, reference)["status"] == "rejected"


def test_rejected_application_resubmitted_returns_to_the_queue(app):
    clerk, reference = submit(app)
    reviewer = login_as(app, "reviewer")
    assert reviewer.post(f"/review/{reference}/reject", reject_data()).status_code == 303
    assert reference in clerk.get("/opening/").get_data(as_text=True)

    assert clerk.post(factories.step_url(reference, "contact"), factories.contact(postcode="100020")).status_code == 303
    assert clerk.post(factories.step_url(reference, "summary")).status_code == 303
    assert application_row(app, reference)["status"] == "resubmitted"

    assert rows_of(reviewer.get("/review/?status=resubmitted").get_data(as_text=True)) == [reference]
    assert "重新提交待复核" in reviewer.get("/review/").get_data(as_text=True)
    page = reviewer.get(f"/review/{reference}").get_data(as_text=True)
    assert "联系地址与证件地址不符" in page and "第 2 次提交" in page

    assert reviewer.post(f"/review/{reference}/approve").status_code == 303
    assert [(d.submission_no, d.decision) for d in decisions_of(app, reference)] == [(1, "reject"), (2, "approve")]
    assert application_row(app, reference)["stage"] == "accounts_opening"


# --- return steps by channel --------------------------------------------------------------------

ONSITE_RETURN_STEPS = [("identity", "2. 身份证明文件"), ("contact", "3. 联系方式与基本信息"), ("verification", "4. 公民身份核查"),
                       ("agent", "5. 代理人"), ("documents", "6. 证件影像"), ("disclosure", "7. 投资者教育与风险揭示"),
                       ("suitability", "8. 适当性评估"), ("agreements", "9. 协议签署")]


def test_an_onsite_application_offers_only_its_own_steps_to_return_to(app):
    _clerk, reference = submit(app)
    body = login_as(app, "reviewer").get(f"/review/{reference}").get_data(as_text=True)
    assert options_of(body, "return_step") == [("", "请选择需要修改的步骤")] + ONSITE_RETURN_STEPS


def test_a_witness_application_offers_the_witness_step_numbered_as_the_clerk_sees_it(app, file_store):
    _witness, reference = submit_witness(app)
    body = login_as(app, "reviewer").get(f"/review/{reference}").get_data(as_text=True)
    assert options_of(body, "return_step")[1:] == ONSITE_RETURN_STEPS + [("witness", "10. 见证与签名")]


def test_an_onsite_application_cannot_be_returned_to_the_witness_step(app):
    _clerk, reference = submit(app)
    response = login_as(app, "reviewer").post(f"/review/{reference}/reject", reject_data(return_step="witness"))
    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for("return_step") == ["请选择需要修改的步骤"]
    assert "联系地址与证件地址不符，请核实" in response.get_data(as_text=True)
    assert decisions_of(app, reference) == []
    assert application_row(app, reference)["status"] == "submitted"


def test_the_decision_itself_refuses_a_step_the_channel_does_not_have(app):
    from blueprints.auth.models import Staff
    from blueprints.review import services

    _clerk, reference = submit(app)
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        for step in ("witness", "summary", "channel", "nonsense"):
            with pytest.raises(services.DecisionRefused, match="请选择需要修改的步骤"):
                services.reject(application, reviewer, reviewer, "理由", step)
        db.session.rollback()
    assert decisions_of(app, reference) == []


def test_a_witness_application_returned_to_the_witness_step_can_be_corrected_and_resubmitted(app, file_store):
    witness, reference = submit_witness(app)
    reviewer = login_as(app, "reviewer")
    response = reviewer.post(f"/review/{reference}/reject",
                             reject_data(reason="现场合影不清晰，请重新拍摄", return_step="witness"))
    assert response.status_code == 303
    assert decisions_of(app, reference)[0].return_step == "witness"

    result = witness.get(f"/review/{reference}/same-terminal").get_data(as_text=True)
    assert "10. 见证与签名" in result and factories.step_url(reference, "witness") in result
    assert witness.post(factories.step_url(reference, "witness"), witness_step(app),
                        content_type="multipart/form-data").status_code == 303
    assert witness.post(factories.step_url(reference, "summary")).status_code == 303
    assert application_row(app, reference)["status"] == "resubmitted"
    page = reviewer.get(f"/review/{reference}").get_data(as_text=True)
    assert "10. 见证与签名" in page  # the earlier decision names the step with the channel's number


def test_a_concurrent_change_is_a_409_not_a_500(app, monkeypatch):
    from sqlalchemy.orm.exc import StaleDataError

    from blueprints.review import services

    _clerk, reference = submit(app)

    def stale(*_args, **_kwargs):
        raise StaleDataError("the application row changed under us")

    monkeypatch.setattr(services, "approve", stale)
    response = login_as(app, "reviewer").post(f"/review/{reference}/approve")
    assert response.status_code == 409
    assert "刚被其他操作修改" in response.get_data(as_text=True)
    assert decisions_of(app, reference) == []
