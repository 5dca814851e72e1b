"""Upgrading a database with return-visit cases fills each case's branch, queue tier and waiting time from its calls."""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core.extensions import db
from tests.migrations.helpers import app_migrated_to, inserter

BEFORE = "5e4c3b2a1f00"
T0 = datetime(2026, 11, 2, 9, 0)
AGENT = 1

# Case id -> (branch id, status, round, entered at, calls as (attempt, round, outcome, at)), and what the
# upgrade must give it: (queue tier, waiting since).
CASES = {
    1: (1, "awaiting", 1, T0, [], (0, T0)),
    2: (1, "awaiting", 1, T0, [(1, 1, "failed", T0 + timedelta(hours=3))], (1, T0 + timedelta(hours=3))),
    3: (2, "awaiting", 1, T0, [(1, 1, "failed", T0 + timedelta(hours=1)), (2, 1, "not_reached", T0 + timedelta(hours=5))],
        (2, T0 + timedelta(hours=5))),
    # Sent back for a second round: the first round's calls no longer count, so it is not yet called.
    4: (1, "awaiting", 2, T0 + timedelta(days=2), [(1, 1, "not_reached", T0), (2, 1, "not_reached", T0 + timedelta(hours=1)),
                                                   (3, 1, "not_reached", T0 + timedelta(hours=2))], (0, T0 + timedelta(days=2))),
    5: (2, "escalated", 1, T0, [(1, 1, "refused", T0 + timedelta(hours=2))], (1, T0 + timedelta(hours=2))),
}


@pytest.fixture
def old_database(tmp_path):
    return app_migrated_to(tmp_path, BEFORE, _insert_old_rows)


def _insert_old_rows(conn):
    add = inserter(conn)

    for branch_id, code in ((1, "0101"), (2, "0201")):
        add("branch", id=branch_id, code=code, name=f"营业部{code}", is_headquarters=False)
    add("staff", id=AGENT, username="agent", full_name="赵回访", password_hash="x", role="return_visit", branch_id=1,
        is_enabled=True, failed_logins=0, session_version=1, created_at=T0, is_regular_employee=True, is_marketing=False)
    for case_id, (branch_id, status, round_no, entered_at, calls, _expected) in CASES.items():
        add("customer", id=case_id, customer_no=f"C01010000{case_id:02d}", branch_id=branch_id, kind="current",
            created_at=T0, customer_type="individual", profile_version=1)
        add("application", id=case_id, reference=f"KH20261102{case_id:06d}", client_token=f"token-{case_id}",
            branch_id=branch_id, channel="onsite", customer_type="individual", status="approved", created_by_id=AGENT,
            created_at=T0, updated_at=T0, version=1, submission_no=1, customer_id=case_id)
        add("fund_account", id=case_id, number=f"0101000000{case_id:02d}", branch_id=branch_id, customer_id=case_id,
            application_id=case_id, status="opened", opened_at=T0)
        add("return_visit_case", id=case_id, application_id=case_id, fund_account_id=case_id, status=status,
            round_no=round_no, entered_at=entered_at, updated_at=entered_at,
            escalated_at=T0 + timedelta(hours=2) if status == "escalated" else None)
        for attempt_no, call_round, outcome, visited_at in calls:
            add("return_visit", application_id=case_id, attempt_no=attempt_no, round_no=call_round, agent_id=AGENT,
                outcome=outcome, items="[]", visited_at=visited_at)


def _cases(conn):
    return {row.id: row for row in conn.execute(sa.text(
        "SELECT id, branch_id, queue_tier, waiting_since FROM return_visit_case"))}


def test_upgrade_fills_the_queue_order_of_every_case(old_database):
    from flask_migrate import upgrade

    with old_database.app_context():
        upgrade()
        with db.engine.connect() as conn:
            cases = _cases(conn)
    for case_id, (branch_id, _status, _round, _entered, _calls, (tier, since)) in CASES.items():
        row = cases[case_id]
        assert (row.branch_id, row.queue_tier) == (branch_id, tier), case_id
        assert datetime.fromisoformat(str(row.waiting_since)) == since, case_id


def test_downgrade_drops_the_queue_order_again(old_database):
    from flask_migrate import downgrade, upgrade

    with old_database.app_context():
        upgrade()
        downgrade(revision=BEFORE)
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("return_visit_case")}
        indexes = {i["name"] for i in sa.inspect(db.engine).get_indexes("application")}
    assert not {"branch_id", "queue_tier", "waiting_since"} & columns
    assert "ix_application_review_queue" not in indexes
