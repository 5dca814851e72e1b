"""Upgrading a database with openings past approval ends each application at approval and opens return-visit cases."""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core import crypto
from core.extensions import db
from tests.migrations.helpers import app_migrated_to, inserter

BEFORE = "0a64e9906dfd"
T0 = datetime(2026, 11, 2, 9, 0)

CLERK, REVIEWER, AGENT, MANAGER = 1, 2, 3, 4

# Application ids, one per situation.
ACTIVE, INACTIVE, AWAITING, OPENING, FAILED, DRAFT_WITHDRAWN, SUBMITTED = 1, 2, 3, 4, 5, 6, 7

ESCALATE_REASON = "第 1 轮回访 3 次未成功，转营业部负责人处理（最后一次：未接通）"
SEND_BACK_REASON = "客户来电说明出差，约定下周回访"
PASS_REASON = "回访通过，账户激活"
OPENED_REASON = "账户开立完成，待回访"
QUEUED_REASON = "已向中国结算、存管银行发送开户请求"
REFUSED_REASON = "中国结算拒绝开户，请求已撤销：证件号码与姓名不一致"


def at(days=0, hours=0, minutes=0):
    return T0 + timedelta(days=days, hours=hours, minutes=minutes)


# Each application's old status changes: (from_status, to_status, actor_id, reason, at).
HISTORY = {
    ACTIVE: [
        ("draft", "submitted", CLERK, None, at(minutes=30)),
        ("submitted", "approved", REVIEWER, None, at(hours=1)),
        ("approved", "accounts_opening", REVIEWER, QUEUED_REASON, at(hours=1, minutes=1)),
        ("accounts_opening", "awaiting_return_visit", None, OPENED_REASON, at(hours=2)),
        ("awaiting_return_visit", "inactive", AGENT, ESCALATE_REASON, at(days=2)),
        ("inactive", "awaiting_return_visit", MANAGER, SEND_BACK_REASON, at(days=3)),
        ("awaiting_return_visit", "active", AGENT, PASS_REASON, at(days=4)),
    ],
    INACTIVE: [
        ("draft", "submitted", CLERK, None, at(days=1)),
        ("submitted", "rejected", REVIEWER, "风险揭示书签字缺失", at(days=1, hours=1)),
        ("rejected", "resubmitted", CLERK, None, at(days=1, hours=2)),
        ("resubmitted", "approved", REVIEWER, None, at(days=1, hours=3)),
        ("approved", "accounts_opening", REVIEWER, QUEUED_REASON, at(days=1, hours=3, minutes=1)),
        ("accounts_opening", "awaiting_return_visit", None, OPENED_REASON, at(days=1, hours=4)),
        ("awaiting_return_visit", "inactive", AGENT, ESCALATE_REASON, at(days=3)),
    ],
    AWAITING: [
        ("draft", "submitted", CLERK, None, at(days=5)),
        ("submitted", "approved", REVIEWER, None, at(days=5, hours=1)),
        ("approved", "accounts_opening", REVIEWER, QUEUED_REASON, at(days=5, hours=1, minutes=1)),
        ("accounts_opening", "awaiting_return_visit", None, OPENED_REASON, at(days=5, hours=2)),
    ],
    OPENING: [
        ("draft", "submitted", CLERK, None, at(days=6)),
        ("submitted", "approved", REVIEWER, None, at(days=6, hours=1)),
        ("approved", "accounts_opening", REVIEWER, QUEUED_REASON, at(days=6, hours=1, minutes=1)),
    ],
    FAILED: [
        ("draft", "submitted", CLERK, None, at(days=7)),
        ("submitted", "approved", REVIEWER, None, at(days=7, hours=1)),
        ("approved", "accounts_opening", REVIEWER, QUEUED_REASON, at(days=7, hours=1, minutes=1)),
        ("accounts_opening", "withdrawn", MANAGER, REFUSED_REASON, at(days=7, hours=5)),
    ],
    DRAFT_WITHDRAWN: [
        ("draft", "withdrawn", CLERK, "客户放弃开户", at(days=8)),
    ],
    SUBMITTED: [
        ("draft", "submitted", CLERK, None, at(days=9)),
    ],
}

OLD_STATUS = {ACTIVE: "active", INACTIVE: "inactive", AWAITING: "awaiting_return_visit", OPENING: "accounts_opening",
              FAILED: "withdrawn", DRAFT_WITHDRAWN: "withdrawn", SUBMITTED: "submitted"}

# The fund accounts, one per application that got as far as sending the opening requests (the
# account is created when they are queued): application id -> (status, opened_at, activated_at).
FUND_ACCOUNTS = {
    ACTIVE: ("active", at(hours=1, minutes=1), at(days=4)),
    INACTIVE: ("inactive", at(days=1, hours=3, minutes=1), None),
    AWAITING: ("inactive", at(days=5, hours=1, minutes=1), None),
    OPENING: ("opening", at(days=6, hours=1, minutes=1), None),
    FAILED: ("failed", at(days=7, hours=1, minutes=1), None),
}

PRE_APPROVAL = {"draft", "submitted", "rejected", "resubmitted"}


@pytest.fixture
def old_database(tmp_path):
    """An app on a database migrated only to the revision before return-visit cases, with openings in it."""
    return app_migrated_to(tmp_path, BEFORE, _insert_old_rows)


def _insert_old_rows(conn):
    add = inserter(conn)

    add("branch", id=1, code="0101", name="北京朝阳门营业部", is_headquarters=False)
    for staff_id, username, full_name, role in ((CLERK, "clerk", "王柜员", "clerk"),
                                                (REVIEWER, "reviewer", "李复核", "reviewer"),
                                                (AGENT, "agent", "赵回访", "return_visit"),
                                                (MANAGER, "manager", "周经理", "branch_manager")):
        add("staff", id=staff_id, username=username, full_name=full_name, password_hash="x", role=role, branch_id=1,
            is_enabled=True, failed_logins=0, session_version=1, created_at=T0, is_regular_employee=True,
            is_marketing=False)

    for application_id, status in OLD_STATUS.items():
        name, id_number = f"客户{application_id}", f"11010519800101{application_id:03d}X"
        customer_id = None
        if application_id in FUND_ACCOUNTS:
            customer_id = application_id
            add("customer", id=customer_id, customer_no=f"C010100000{application_id}", branch_id=1,
                kind="potential" if application_id == FAILED else "current", created_at=T0,
                customer_type="individual", profile_version=1)
        history = HISTORY[application_id]
        add("application", id=application_id, reference=f"KH2026110200000{application_id}",
            client_token=f"token-{application_id}", branch_id=1, channel="onsite", customer_type="individual",
            status=status, created_by_id=CLERK, created_at=T0, updated_at=history[-1][4],
            submitted_at=history[0][4] if history[0][1] == "submitted" else None, version=len(history) + 1,
            submission_no=sum(1 for change in history if change[1] in ("submitted", "resubmitted")),
            customer_name=name, id_type="resident_id", id_number=crypto.encrypt(id_number),
            id_number_index=crypto.blind_index(id_number), customer_id=customer_id)
        if customer_id is not None:
            add("customer_profile", customer_id=customer_id, version=1, name=name, id_type="resident_id",
                id_number=crypto.encrypt(id_number), id_number_index=crypto.blind_index(id_number), name_key=name,
                name_pinyin=f"kehu{application_id}", name_initials=f"kh{application_id}", source="opening",
                application_id=application_id, created_by_id=CLERK, created_at=T0)
        for from_status, to_status, actor_id, reason, moved_at in history:
            add("application_status_change", application_id=application_id, from_status=from_status,
                to_status=to_status, actor_id=actor_id, reason=reason, at=moved_at)

    for application_id, (status, opened_at, activated_at) in FUND_ACCOUNTS.items():
        add("fund_account", id=10 + application_id, number=f"01011234567{application_id}", branch_id=1,
            customer_id=application_id, application_id=application_id, status=status, opened_at=opened_at,
            activated_at=activated_at)
    add("account_status_change", fund_account_id=10 + FAILED, from_status="opening", to_status="failed",
        actor_id=MANAGER, reason=REFUSED_REASON, at=at(days=7, hours=5))

    # The calls: three unreached in round 1 then a pass in round 2; three for the escalated one; none yet for round 1.
    for application_id, attempt_no, round_no, outcome, visited_at in (
            (ACTIVE, 1, 1, "not_reached", at(days=1)),
            (ACTIVE, 2, 1, "not_reached", at(days=1, hours=4)),
            (ACTIVE, 3, 1, "not_reached", at(days=2)),
            (ACTIVE, 4, 2, "passed", at(days=4)),
            (INACTIVE, 1, 1, "not_reached", at(days=2)),
            (INACTIVE, 2, 1, "refused", at(days=2, hours=3)),
            (INACTIVE, 3, 1, "not_reached", at(days=3))):
        add("return_visit", application_id=application_id, attempt_no=attempt_no, round_no=round_no,
            agent_id=AGENT, outcome=outcome, items="[]", visited_at=visited_at,
            notes="客户拒绝回访" if outcome == "refused" else None)


def test_upgrade_ends_applications_at_approval_and_opens_their_return_visit_cases(old_database):
    from flask_migrate import upgrade

    from blueprints.opening import progress
    from blueprints.opening.models import Application, StatusChange
    from blueprints.return_visit.models import ReturnVisit, ReturnVisitCase, ReturnVisitCaseChange

    with old_database.app_context():
        upgrade()

        statuses = dict(db.session.execute(sa.select(Application.id, Application.status)).all())
        assert statuses == {ACTIVE: "approved", INACTIVE: "approved", AWAITING: "approved", OPENING: "approved",
                            FAILED: "approved", DRAFT_WITHDRAWN: "withdrawn", SUBMITTED: "submitted"}

        cases = {c.application_id: c for c in db.session.scalars(sa.select(ReturnVisitCase))}
        assert set(cases) == {ACTIVE, INACTIVE, AWAITING}
        found = {application_id: (c.status, c.round_no, c.entered_at, c.escalated_at, c.passed_at, c.fund_account_id)
                 for application_id, c in cases.items()}
        assert found == {
            ACTIVE: ("passed", 2, at(days=3), at(days=2), at(days=4), 10 + ACTIVE),
            INACTIVE: ("escalated", 1, at(days=1, hours=4), at(days=3), None, 10 + INACTIVE),
            AWAITING: ("awaiting", 1, at(days=5, hours=2), None, None, 10 + AWAITING),
        }
        assert cases[ACTIVE].updated_at == at(days=4)
        assert cases[INACTIVE].updated_at == at(days=3)
        assert cases[AWAITING].updated_at == at(days=5, hours=2)

        def case_history(application_id):
            return [(c.from_status, c.to_status, c.round_no, c.actor_id, c.reason, c.at)
                    for c in db.session.scalars(sa.select(ReturnVisitCaseChange)
                                                .where(ReturnVisitCaseChange.case_id == cases[application_id].id)
                                                .order_by(ReturnVisitCaseChange.id))]

        assert case_history(ACTIVE) == [
            (None, "awaiting", 1, None, OPENED_REASON, at(hours=2)),
            ("awaiting", "escalated", 1, AGENT, ESCALATE_REASON, at(days=2)),
            ("escalated", "awaiting", 2, MANAGER, SEND_BACK_REASON, at(days=3)),
            ("awaiting", "passed", 2, AGENT, PASS_REASON, at(days=4)),
        ]
        assert case_history(INACTIVE) == [
            (None, "awaiting", 1, None, OPENED_REASON, at(days=1, hours=4)),
            ("awaiting", "escalated", 1, AGENT, ESCALATE_REASON, at(days=3)),
        ]
        assert case_history(AWAITING) == [
            (None, "awaiting", 1, None, OPENED_REASON, at(days=5, hours=2)),
        ]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReturnVisitCaseChange)) == 7

        # Only the moves up to approval stay in the application's history, unchanged.
        for application_id, history in HISTORY.items():
            kept = [(c.from_status, c.to_status, c.actor_id, c.reason, c.at)
                    for c in db.session.scalars(sa.select(StatusChange)
                                                .where(StatusChange.application_id == application_id)
                                                .order_by(StatusChange.id))]
            assert kept == [change for change in history if change[0] in PRE_APPROVAL], application_id
        assert not db.session.scalars(sa.select(StatusChange).where(
            StatusChange.from_status.in_(["approved", "accounts_opening", "awaiting_return_visit", "active",
                                          "inactive"]))).all()

        # The calls are left as they were.
        visits = db.session.execute(sa.select(ReturnVisit.application_id, ReturnVisit.attempt_no, ReturnVisit.round_no)
                                    .order_by(ReturnVisit.application_id, ReturnVisit.attempt_no)).all()
        assert visits == [(ACTIVE, 1, 1), (ACTIVE, 2, 1), (ACTIVE, 3, 1), (ACTIVE, 4, 2),
                          (INACTIVE, 1, 1), (INACTIVE, 2, 1), (INACTIVE, 3, 1)]

        # What the screens show for each, through the app's own provider.
        assert progress.stages_of([ACTIVE, INACTIVE, AWAITING, OPENING, FAILED]) == {
            ACTIVE: progress.Stage.ACTIVE,
            INACTIVE: progress.Stage.ESCALATED,
            AWAITING: progress.Stage.AWAITING_RETURN_VISIT,
            OPENING: progress.Stage.ACCOUNTS_OPENING,
            FAILED: progress.Stage.OPENING_FAILED,
        }
        shown = progress.of(db.session.scalars(sa.select(Application).order_by(Application.id)))
        assert {application_id: p.key for application_id, p in shown.items()} == {
            ACTIVE: "active", INACTIVE: "inactive", AWAITING: "awaiting_return_visit", OPENING: "accounts_opening",
            FAILED: "opening_failed", DRAFT_WITHDRAWN: "withdrawn", SUBMITTED: "submitted"}


def test_downgrade_restores_the_old_statuses_and_drops_the_cases(old_database):
    from flask_migrate import downgrade, upgrade

    from blueprints.opening.models import StatusChange

    with old_database.app_context():
        upgrade()
        downgrade(revision=BEFORE)

        assert db.session.scalar(sa.text("SELECT version_num FROM alembic_version")) == BEFORE
        statuses = dict(db.session.execute(sa.text("SELECT id, status FROM application")).all())
        assert statuses == OLD_STATUS
        tables = set(sa.inspect(db.session.connection()).get_table_names())
        assert not tables & {"return_visit_case", "return_visit_case_change"}

        def moves(application_id):
            return [(c.from_status, c.to_status) for c in db.session.scalars(
                sa.select(StatusChange).where(StatusChange.application_id == application_id).order_by(StatusChange.id))]

        # The history is rebuilt move by move (the actor of "approved -> accounts_opening" is not kept).
        for application_id, history in HISTORY.items():
            assert moves(application_id) == [change[:2] for change in history], application_id
        rebuilt = db.session.scalars(sa.select(StatusChange).where(StatusChange.application_id == ACTIVE)
                                     .order_by(StatusChange.id)).all()[2:]
        assert [(c.actor_id, c.reason, c.at) for c in rebuilt] == [
            (None, QUEUED_REASON, at(hours=1, minutes=1)),
            (None, OPENED_REASON, at(hours=2)),
            (AGENT, ESCALATE_REASON, at(days=2)),
            (MANAGER, SEND_BACK_REASON, at(days=3)),
            (AGENT, PASS_REASON, at(days=4)),
        ]
        withdrawn = db.session.scalars(sa.select(StatusChange).where(StatusChange.application_id == FAILED)
                                       .order_by(StatusChange.id.desc())).first()
        assert (withdrawn.actor_id, withdrawn.reason, withdrawn.at) == (MANAGER, REFUSED_REASON, at(days=7, hours=5))
