"""Two reviewers deciding one merge at once, and two managers entering the same pair at once: one of each."""
from sqlalchemy import func, select

from blueprints.customers.models import Customer, CustomerKindChange
from blueprints.merges.models import CustomerMerge
from core.extensions import db
from tests.concurrency.test_concurrent_requests import _race
from tests.merges.test_merge import customer, entry_token, propose, same_person
from tests.requests.helpers import add_staff, login_as
from tests.closure.support import reference_from


def test_two_reviewers_deciding_one_merge_at_once_make_one_decision(app):
    manager = login_as(app, "manager")
    flag_id = same_person(app, manager)
    reference = reference_from(propose(manager, flag_id, "C0101500001"))
    add_staff(app, "reviewer2", "reviewer", full_name="周复核")
    first, second = login_as(app, "reviewer"), login_as(app, "reviewer2")

    responses = _race([lambda: first.post(f"/merges/{reference}/decide", {"decision": "approve"}),
                       lambda: second.post(f"/merges/{reference}/decide", {"decision": "reject", "note": "退回"})])

    assert sorted(r.status_code for r in responses) == [303, 409], [r.status_code for r in responses]
    loser = next(r for r in responses if r.status_code == 409).get_data(as_text=True)
    assert "不能再复核" in loser
    absorbed = customer(app, "C0101500002")
    with app.app_context():
        merge = db.session.scalar(select(CustomerMerge).where(CustomerMerge.reference == reference))
        moves = db.session.scalar(select(func.count()).select_from(CustomerKindChange)
                                  .where(CustomerKindChange.customer_id == absorbed.id, CustomerKindChange.to_kind == "merged"))
        assert (merge.status, absorbed.kind, moves) in (("approved", "merged", 1), ("rejected", "potential", 0))


def test_two_managers_entering_the_same_pair_at_once_make_one_merge(app):
    manager = login_as(app, "manager")
    flag_id = same_person(app, manager)
    add_staff(app, "manager2", "branch_manager", full_name="郑经理")
    other = login_as(app, "manager2")
    tokens = entry_token(manager, flag_id), entry_token(other, flag_id)

    responses = _race([lambda: propose(manager, flag_id, "C0101500001", token=tokens[0]),
                       lambda: propose(other, flag_id, "C0101500001", token=tokens[1])])

    # The one who came second is led to the merge the first entered.
    assert [r.status_code for r in responses] == [303, 303]
    assert responses[0].headers["Location"] == responses[1].headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerMerge)) == 1
        assert db.session.scalar(select(Customer.kind).where(Customer.customer_no == "C0101500002")) == "potential"
