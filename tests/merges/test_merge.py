"""Merging two records of one person: entered by a manager from a pair found to be one person, decided by a
reviewer, keeping both histories; refused while the record to merge still holds accounts or open business."""
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from blueprints.customers import counts
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer, CustomerKind, CustomerKindChange
from blueprints.managers.models import CustomerAssignment
from blueprints.merges.models import CustomerMerge
from blueprints.search import services as search_services
from blueprints.search.models import DuplicateFlag
from blueprints.service.models import ServiceRecord
from core import crypto
from core.extensions import db
from core.models import AuditEvent
from tests import factories
from tests.closure.support import active_customer, drain, reference_from, review, start_closure
from tests.requests.helpers import add_staff, login_as, page_of
from tests.requests.test_customer_search import add_customer, suggest

BIRTH = date(1985, 2, 3)
RESIDENT_ID = factories.make_id("110105", "19850203", "222")
PERMIT = "H12345678"


def customer(app, customer_no: str) -> Customer:
    with app.app_context():
        found = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        db.session.expunge(found)
        return found


def same_person(app, manager, first_no="C0101500001", second_no="C0101500002", *, second_kind="potential",
                second_branch="0101") -> int:
    """Two records of 陈美玲 (a resident ID card, a residence permit), flagged and found to be one person."""
    with app.app_context():
        add_customer(first_no, "陈美玲", RESIDENT_ID, birth_date=BIRTH)
        add_customer(second_no, "陈美玲", PERMIT, id_type="hmt_residence_permit", birth_date=BIRTH, kind=second_kind,
                     branch_code=second_branch)
        db.session.commit()
        flag_id = db.session.scalar(select(DuplicateFlag.id))
    assert flag_id is not None
    if manager is not None:
        assert manager.post(f"/search/duplicates/{flag_id}", {"status": "same_person", "note": "核对港澳台居民居住证与身份证"}
                            ).status_code == 303
    return flag_id


def entry_token(auth, flag_id: int) -> str:
    html = auth.get(f"/merges/new/{flag_id}").get_data(as_text=True)
    return re.search(r'name="client_token" type="hidden" value="([^"]+)"', html).group(1)


def propose(auth, flag_id: int, survivor_no: str, reason="身份证与居住证为同一人", token=None):
    survivor_id = customer(auth.client.application, survivor_no).id
    return auth.post(f"/merges/new/{flag_id}", {"client_token": token or entry_token(auth, flag_id),
                                                "survivor": str(survivor_id), "reason": reason})


@pytest.fixture
def manager(app):
    return login_as(app, "manager")


@pytest.fixture
def reviewer(app):
    return login_as(app, "reviewer")


def test_a_reviewed_merge_keeps_both_histories_and_the_survivor_finds_the_old_document(app, manager, reviewer):
    flag_id = same_person(app, manager)
    response = manager.get(f"/merges/new/{flag_id}")
    assert response.status_code == 200
    html = page_of(response).html
    assert "C0101500001" in html and "C0101500002" in html and "陈美玲" not in html  # names masked for the manager
    assert RESIDENT_ID not in html and PERMIT not in html
    token = entry_token(manager, flag_id)
    first = propose(manager, flag_id, "C0101500001", token=token)
    assert first.status_code == 303, first.get_data(as_text=True)[:500]
    again = propose(manager, flag_id, "C0101500001", token=token)  # a double click records one merge
    assert again.headers["Location"] == first.headers["Location"]
    reference = reference_from(first)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerMerge)) == 1
    # The maker may not decide; the reviewer approves once, a second decision changes nothing.
    assert manager.post(f"/merges/{reference}/decide", {"decision": "approve"}).status_code == 403
    assert reviewer.post(f"/merges/{reference}/decide", {"decision": "approve", "note": "核对无误"}).status_code == 303
    late = reviewer.post(f"/merges/{reference}/decide", {"decision": "reject", "note": "晚到的退回"})
    assert late.status_code == 409 and "不能再复核" in late.get_data(as_text=True)

    survivor, absorbed = customer(app, "C0101500001"), customer(app, "C0101500002")
    assert absorbed.kind == CustomerKind.MERGED and absorbed.merged_into_id == survivor.id
    assert survivor.kind == CustomerKind.CURRENT
    with app.app_context():
        assert db.session.get(DuplicateFlag, flag_id).status == "merged"
        moves = db.session.scalars(select(CustomerKindChange).where(CustomerKindChange.customer_id == absorbed.id)
                                   .order_by(CustomerKindChange.id)).all()
        assert [m.to_kind for m in moves] == ["potential", "merged"] and reference in moves[-1].reason
        assert counts.kept() == counts.counted()
        # Nothing of the absorbed record was rewritten: its profile and ID number are still its own.
        assert customer_services.profile_versions(db.session.get(Customer, absorbed.id))[0].id_number == PERMIT
        actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("customer.merge.%"))))
        assert {"customer.merge.submit", "customer.merge.approve"} <= actions
        # Opening again with the old document joins the survivor, not the merged record.
        found = customer_services.find_by_key_information(crypto.blind_index(PERMIT), "陈美玲", "hmt_residence_permit")
        assert found.id == survivor.id

    # The survivor's page lists the merged record; the merged record is read through it, read only.
    clerk = login_as(app, "clerk")
    page = clerk.get("/customers/C0101500001").get_data(as_text=True)
    assert 'id="merged-records"' in page and "C0101500002" in page
    assert clerk.get("/customers/C0101500002").status_code == 404
    old = clerk.get("/customers/C0101500001/merged/C0101500002")
    assert old.status_code == 200
    old_html = old.get_data(as_text=True)
    assert 'id="merged-banner"' in old_html and "已合并客户" in old_html and 'id="customer-actions"' not in old_html
    assert clerk.get("/customers/C0101500002/merged/C0101500001").status_code == 404
    # Searching by the old document's number finds the survivor.
    hits = suggest(clerk, PERMIT).get_data(as_text=True)
    assert "C0101500001" in hits and "C0101500002" not in hits
    # A later profile version of the survivor rebuilds its keys and keeps the merged record's.
    with app.app_context():
        kept = db.session.get(Customer, survivor.id)
        values = {"name": "陈美玲", "id_type": "resident_id", "id_number": RESIDENT_ID, "mobile": "13900000001",
                  "birth_date": BIRTH}
        customer_services.add_profile_version(kept, values, source="change", actor=None)
        db.session.commit()
    assert "C0101500001" in suggest(clerk, PERMIT).get_data(as_text=True)
    # So does a rebuild of every customer's keys (`flask search reindex`).
    with app.app_context():
        search_services.reindex_all(batch=1)
    assert "C0101500001" in suggest(clerk, PERMIT).get_data(as_text=True)
    # A business on the merged record is refused: it is not among the customers anyone may act on.
    assert clerk.get("/changes/C0101500002/ordinary").status_code == 404


def test_a_record_with_live_accounts_is_not_merged_until_they_are_closed(app, auth, manager, reviewer):
    clerk = auth
    customer_no, number = active_customer(app, clerk, name="陈美玲", token="merge-1")
    with app.app_context():
        opened = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        birth = opened.profile.birth_date
        add_customer("C0101500009", "陈美玲", PERMIT, id_type="hmt_residence_permit", birth_date=birth, kind="potential")
        db.session.commit()
        flag_id = db.session.scalar(select(DuplicateFlag.id).where(DuplicateFlag.reason == "other_document"))
    manager.post(f"/search/duplicates/{flag_id}", {"status": "same_person", "note": "同一人"})
    # Keeping the permit record would merge away the one with accounts: refused, and said beside the choice.
    entry = manager.get(f"/merges/new/{flag_id}").get_data(as_text=True)
    assert "未注销的账户" in entry
    refused = propose(manager, flag_id, "C0101500009", reason="保留居住证档案")
    assert refused.status_code == 409
    body = refused.get_data(as_text=True)
    assert "一人一户" in body and "保留居住证档案" in body  # the reason typed is kept
    # Once its accounts are closed (a historical customer), the record can be merged into the permit one.
    response = start_closure(clerk, customer_no, number)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    assert review(clerk, reference_from(response)).status_code == 303
    drain(app)
    assert customer(app, customer_no).kind == CustomerKind.HISTORICAL
    listed = manager.get("/search/duplicates?status=same_person").get_data(as_text=True)
    assert customer_no in listed and f'id="merge-{flag_id}"' in listed  # still listed while one record is closed
    created = propose(manager, flag_id, "C0101500009", reason="原档案已销户，保留居住证档案")
    assert created.status_code == 303, created.get_data(as_text=True)[:500]
    assert reviewer.post(f"/merges/{reference_from(created)}/decide", {"decision": "approve"}).status_code == 303
    assert customer(app, customer_no).kind == CustomerKind.MERGED
    with app.app_context():
        assert counts.kept() == counts.counted()


def test_open_business_blocks_the_merge_and_the_reviewer_sees_why(app, manager, reviewer):
    flag_id = same_person(app, manager)
    created = propose(manager, flag_id, "C0101500001")
    reference = reference_from(created)
    # A complaint recorded on the record to merge after the entry: the reviewer is told, nothing merges.
    with app.app_context():
        from blueprints.auth.models import Staff

        absorbed = db.session.scalar(select(Customer).where(Customer.customer_no == "C0101500002"))
        clerk_id = db.session.scalar(select(Staff.id).where(Staff.username == "clerk"))
        db.session.add(ServiceRecord(reference="FW-merge-1", client_token="merge-open-1", customer_id=absorbed.id,
                                     branch_id=absorbed.branch_id, kind="consultation", status="open",
                                     subject="咨询", content="咨询开户", owner_id=clerk_id, created_by_id=clerk_id))
        db.session.commit()
    detail = reviewer.get(f"/merges/{reference}").get_data(as_text=True)
    assert 'id="merge-blocking"' in detail and "未办结的服务记录" in detail
    refused = reviewer.post(f"/merges/{reference}/decide", {"decision": "approve"})
    assert refused.status_code == 409 and "未办结的服务记录" in refused.get_data(as_text=True)
    assert customer(app, "C0101500002").kind == CustomerKind.POTENTIAL
    # Sending back needs a reason; then it is closed and a new entry may follow.
    assert reviewer.post(f"/merges/{reference}/decide", {"decision": "reject", "note": ""}).status_code == 422
    assert reviewer.post(f"/merges/{reference}/decide", {"decision": "reject", "note": "先办结咨询"}).status_code == 303
    assert manager.get(f"/merges/new/{flag_id}").status_code == 200


def test_one_pending_merge_per_record_and_the_maker_may_withdraw(app, manager):
    flag_id = same_person(app, manager)
    add_staff(app, "manager2", "branch_manager", full_name="郑经理")
    other = login_as(app, "manager2")
    opened_before = entry_token(other, flag_id)  # a second manager has the entry page open
    created = propose(manager, flag_id, "C0101500001")
    reference = reference_from(created)
    # Entering the same pair again leads to the pending merge instead of a second one.
    assert manager.get(f"/merges/new/{flag_id}").headers["Location"].endswith(f"/merges/{reference}")
    # And so does the second manager's entry, sent after the first: led to it, not refused.
    late = propose(other, flag_id, "C0101500002", token=opened_before)
    assert late.status_code == 303 and late.headers["Location"].endswith(f"/merges/{reference}")
    assert "未重复提交" in other.get(late.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerMerge)) == 1
    admin = login_as(app, "admin")
    assert admin.post(f"/merges/{reference}/withdraw", {"note": "不是我发起的"}).status_code == 403
    assert manager.post(f"/merges/{reference}/withdraw", {"note": ""}).status_code == 422
    assert manager.post(f"/merges/{reference}/withdraw", {"note": "录错保留档案"}).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(CustomerMerge.status).where(CustomerMerge.reference == reference)) == "withdrawn"


def test_roles_and_branches(app, manager):
    flag_id = same_person(app, manager)
    reference = reference_from(propose(manager, flag_id, "C0101500001"))
    for username in ("clerk", "cmanager", "broker", "marketing", "visitor"):
        auth = login_as(app, username)
        assert auth.get("/merges/").status_code == 403, username
        assert auth.get(f"/merges/{reference}").status_code == 403, username
    assert login_as(app, "clerk").get(f"/merges/new/{flag_id}").status_code == 403
    add_staff(app, "reviewer_sh", "reviewer", branch_code="0201", full_name="沈复核")
    add_staff(app, "manager_sh", "branch_manager", branch_code="0201", full_name="沈经理")
    other = login_as(app, "reviewer_sh")
    assert other.get(f"/merges/{reference}").status_code == 404
    assert other.post(f"/merges/{reference}/decide", {"decision": "approve"}).status_code == 404
    assert login_as(app, "manager_sh").get(f"/merges/new/{flag_id}").status_code == 404
    assert reference not in login_as(app, "reviewer_sh").get("/merges/").get_data(as_text=True)
    listed = login_as(app, "reviewer").get("/merges/").get_data(as_text=True)
    assert reference in listed and "陈美玲" in listed  # the reviewer's role sees names in full
    home = login_as(app, "reviewer").get("/").get_data(as_text=True)
    assert f"客户合并 {reference} 待复核" in home


def test_a_pair_in_two_branches_is_merged_by_hq_and_decided_by_an_hq_reviewer(app):
    admin = login_as(app, "admin")
    flag_id = same_person(app, admin, "C0101500021", "C0201500022", second_branch="0201")
    assert login_as(app, "manager").get(f"/merges/new/{flag_id}").status_code == 404
    reference = reference_from(propose(admin, flag_id, "C0101500021"))
    refused = login_as(app, "reviewer").post(f"/merges/{reference}/decide", {"decision": "approve"})
    assert refused.status_code in (403, 404)
    add_staff(app, "reviewer_hq", "reviewer", branch_code="0000", full_name="钱复核")
    assert login_as(app, "reviewer_hq").post(f"/merges/{reference}/decide", {"decision": "approve"}).status_code == 303
    assert customer(app, "C0201500022").merged_into_id == customer(app, "C0101500021").id


def test_the_merged_records_manager_assignment_ends_on_the_merge(app, manager, reviewer):
    flag_id = same_person(app, manager)
    with app.app_context():
        from blueprints.auth.models import Staff
        from blueprints.managers import services as managers

        absorbed = db.session.scalar(select(Customer).where(Customer.customer_no == "C0101500002"))
        cmanager = db.session.scalar(select(Staff).where(Staff.username == "cmanager"))
        managers.assign(absorbed, cmanager, cmanager, "首次分配")
        db.session.commit()
    reference = reference_from(propose(manager, flag_id, "C0101500001"))
    assert reviewer.post(f"/merges/{reference}/decide", {"decision": "approve"}).status_code == 303
    absorbed_id = customer(app, "C0101500002").id
    with app.app_context():
        assignment = db.session.scalar(select(CustomerAssignment).where(CustomerAssignment.customer_id == absorbed_id))
        assert assignment.effective_to is not None
