"""Return-visit cases; the application's lifecycle ends at approval

The statuses an application took after approval (accounts_opening, awaiting_return_visit,
active, inactive, and withdrawn after China Clearing refused) move out of it: the accounts
carry their own states already, and the return visit gets a case of its own with its history.
Each application past approval becomes `approved`; its post-approval status changes become
the case's history (the account-opening ones are kept by the accounts' own status changes).

Revision ID: 7e3b1c9d4a20
Revises: 0a64e9906dfd
Create Date: 2026-12-02 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7e3b1c9d4a20'
down_revision = '0a64e9906dfd'
branch_labels = None
depends_on = None

AFTER_APPROVAL = ("accounts_opening", "awaiting_return_visit", "active", "inactive")
TO_CASE = {"awaiting_return_visit": "awaiting", "inactive": "escalated", "active": "passed"}
FROM_CASE = {value: key for key, value in TO_CASE.items()}


def upgrade():
    op.create_table(
        'return_visit_case',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('fund_account_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('round_no', sa.Integer(), nullable=False),
        sa.Column('entered_at', sa.DateTime(), nullable=False),
        sa.Column('escalated_at', sa.DateTime(), nullable=True),
        sa.Column('passed_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_return_visit_case_application_id_application')),
        sa.ForeignKeyConstraint(['fund_account_id'], ['fund_account.id'], name=op.f('fk_return_visit_case_fund_account_id_fund_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_return_visit_case')),
        sa.UniqueConstraint('application_id', name=op.f('uq_return_visit_case_application_id')),
    )
    with op.batch_alter_table('return_visit_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_visit_case_fund_account_id'), ['fund_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_return_visit_case_status'), ['status'], unique=False)
    op.create_table(
        'return_visit_case_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('from_status', sa.String(length=16), nullable=True),
        sa.Column('to_status', sa.String(length=16), nullable=False),
        sa.Column('round_no', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], name=op.f('fk_return_visit_case_change_actor_id_staff')),
        sa.ForeignKeyConstraint(['case_id'], ['return_visit_case.id'], name=op.f('fk_return_visit_case_change_case_id_return_visit_case'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_return_visit_case_change')),
    )
    with op.batch_alter_table('return_visit_case_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_visit_case_change_case_id'), ['case_id'], unique=False)

    conn = op.get_bind()
    opened = conn.execute(sa.text(
        "SELECT a.id, a.status, f.id, f.opened_at FROM application a JOIN fund_account f ON f.application_id = a.id "
        "WHERE a.status IN ('awaiting_return_visit', 'active', 'inactive') ORDER BY a.id")).all()
    for application_id, status, fund_account_id, opened_at in opened:
        moves = conn.execute(sa.text(
            "SELECT from_status, to_status, actor_id, reason, at FROM application_status_change "
            "WHERE application_id = :id AND to_status IN ('awaiting_return_visit', 'active', 'inactive') ORDER BY id"),
            {"id": application_id}).all()
        history, round_no, entered_at, escalated_at, passed_at = [], 0, opened_at, None, None
        for from_status, to_status, actor_id, reason, at in moves:
            if to_status == "awaiting_return_visit":
                round_no, entered_at = round_no + 1, at
            elif to_status == "inactive":
                escalated_at = at
            else:
                passed_at = at
            history.append({"from_status": TO_CASE.get(from_status), "to_status": TO_CASE[to_status],
                            "round_no": max(round_no, 1), "actor_id": actor_id, "reason": reason,
                            "at": at})
        # Plain SQL both ways: the times pass through as the database gave them.
        conn.execute(sa.text(
            "INSERT INTO return_visit_case (application_id, fund_account_id, status, round_no, entered_at, "
            "escalated_at, passed_at, updated_at) VALUES (:application_id, :fund_account_id, :status, :round_no, "
            ":entered_at, :escalated_at, :passed_at, :updated_at)"),
            {"application_id": application_id, "fund_account_id": fund_account_id, "status": TO_CASE[status],
             "round_no": max(round_no, 1), "entered_at": entered_at, "escalated_at": escalated_at,
             "passed_at": passed_at, "updated_at": history[-1]["at"] if history else opened_at})
        case_id = conn.execute(sa.text("SELECT id FROM return_visit_case WHERE application_id = :id"),
                               {"id": application_id}).scalar()
        if history:
            conn.execute(sa.text(
                "INSERT INTO return_visit_case_change (case_id, from_status, to_status, round_no, actor_id, reason, at) "
                "VALUES (:case_id, :from_status, :to_status, :round_no, :actor_id, :reason, :at)"),
                [dict(entry, case_id=case_id) for entry in history])

    conn.execute(sa.text(
        "UPDATE application SET status = 'approved' WHERE status IN ('accounts_opening', 'awaiting_return_visit', "
        "'active', 'inactive') OR (status = 'withdrawn' AND EXISTS "
        "(SELECT 1 FROM fund_account f WHERE f.application_id = application.id))"))
    conn.execute(sa.text(
        "DELETE FROM application_status_change WHERE from_status IN ('approved', 'accounts_opening', "
        "'awaiting_return_visit', 'active', 'inactive')"))


def downgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT a.id, f.status, f.opened_at, c.id, c.status FROM application a "
        "JOIN fund_account f ON f.application_id = a.id "
        "LEFT JOIN return_visit_case c ON c.application_id = a.id WHERE a.status = 'approved' ORDER BY a.id")).all()
    add_change = sa.text("INSERT INTO application_status_change (application_id, from_status, to_status, actor_id, "
                         "reason, at) VALUES (:application_id, :from_status, :to_status, :actor_id, :reason, :at)")
    for application_id, account_status, opened_at, case_id, case_status in rows:
        conn.execute(add_change, {"application_id": application_id, "from_status": "approved",
                                  "to_status": "accounts_opening", "actor_id": None,
                                  "reason": "已向中国结算、存管银行发送开户请求", "at": opened_at})
        if account_status == "opening":
            status = "accounts_opening"
        elif account_status == "failed":
            status = "withdrawn"
            failed = conn.execute(sa.text(
                "SELECT actor_id, reason, at FROM account_status_change WHERE fund_account_id = "
                "(SELECT id FROM fund_account WHERE application_id = :id) AND to_status = 'failed' ORDER BY id DESC"),
                {"id": application_id}).first()
            conn.execute(add_change, {"application_id": application_id, "from_status": "accounts_opening",
                                      "to_status": "withdrawn", "actor_id": failed[0] if failed else None,
                                      "reason": failed[1] if failed else None, "at": failed[2] if failed else opened_at})
        else:
            status = FROM_CASE.get(case_status, "awaiting_return_visit")
            for from_status, to_status, actor_id, reason, at in conn.execute(sa.text(
                    "SELECT from_status, to_status, actor_id, reason, at FROM return_visit_case_change "
                    "WHERE case_id = :id ORDER BY id"), {"id": case_id}).all() if case_id else ():
                conn.execute(add_change, {"application_id": application_id,
                                          "from_status": FROM_CASE.get(from_status, "accounts_opening"),
                                          "to_status": FROM_CASE[to_status], "actor_id": actor_id, "reason": reason,
                                          "at": at})
        conn.execute(sa.text("UPDATE application SET status = :status WHERE id = :id"),
                     {"status": status, "id": application_id})

    with op.batch_alter_table('return_visit_case_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_visit_case_change_case_id'))
    op.drop_table('return_visit_case_change')
    with op.batch_alter_table('return_visit_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_visit_case_status'))
        batch_op.drop_index(batch_op.f('ix_return_visit_case_fund_account_id'))
    op.drop_table('return_visit_case')
