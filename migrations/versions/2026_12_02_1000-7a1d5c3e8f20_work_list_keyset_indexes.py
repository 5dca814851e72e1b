"""Work lists page by keyset: the return-visit queue's order on its case, and an index for every list's order

The return-visit case carries its branch, its queue tier (not yet called in this round, reached
without passing, not reached) and since when it waits, filled here from the calls on record, so a
page of the agents' queue or of the branch manager's list is one range of an index. The review
queue, the lending register and the archive get indexes in their list order.

Revision ID: 7a1d5c3e8f20
Revises: 5e4c3b2a1f00
Create Date: 2026-12-02 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a1d5c3e8f20'
down_revision = '5e4c3b2a1f00'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_return_visit_case_queue', 'return_visit_case',
     ['status', 'branch_id', 'queue_tier', 'waiting_since', 'application_id']),
    ('ix_return_visit_case_queue_all', 'return_visit_case', ['status', 'queue_tier', 'waiting_since', 'application_id']),
    ('ix_return_visit_case_escalated', 'return_visit_case', ['status', 'branch_id', 'escalated_at', 'application_id']),
    ('ix_return_visit_case_escalated_all', 'return_visit_case', ['status', 'escalated_at', 'application_id']),
    ('ix_application_review_queue', 'application', ['status', 'branch_id', 'submitted_at', 'id']),
    ('ix_application_review_queue_all', 'application', ['status', 'submitted_at', 'id']),
    ('ix_lending_record_register', 'lending_record', ['at', 'id']),
    ('ix_lending_record_branch_register', 'lending_record', ['branch_id', 'at', 'id']),
)

# The current round's last call of each case (calls are numbered over all rounds).
LAST_IN_ROUND = ("(SELECT v.{column} FROM return_visit v WHERE v.application_id = return_visit_case.application_id "
                 "AND v.round_no = return_visit_case.round_no ORDER BY v.attempt_no DESC LIMIT 1)")


def upgrade():
    with op.batch_alter_table('return_visit_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('branch_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('queue_tier', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('waiting_since', sa.DateTime(), nullable=True))
    op.execute("UPDATE return_visit_case SET branch_id = "
               "(SELECT a.branch_id FROM application a WHERE a.id = return_visit_case.application_id)")
    # Tier as rules.queue_tier: 0 not called in this round, 2 last call not reached, 1 otherwise.
    op.execute(f"UPDATE return_visit_case SET queue_tier = CASE "
               f"WHEN {LAST_IN_ROUND.format(column='outcome')} IS NULL THEN 0 "
               f"WHEN {LAST_IN_ROUND.format(column='outcome')} = 'not_reached' THEN 2 ELSE 1 END, "
               f"waiting_since = COALESCE({LAST_IN_ROUND.format(column='visited_at')}, entered_at)")
    with op.batch_alter_table('return_visit_case', schema=None) as batch_op:
        batch_op.alter_column('branch_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('waiting_since', existing_type=sa.DateTime(), nullable=False)
        batch_op.create_foreign_key('fk_return_visit_case_branch_id_branch', 'branch', ['branch_id'], ['id'])
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table('return_visit_case', schema=None) as batch_op:
        batch_op.drop_constraint('fk_return_visit_case_branch_id_branch', type_='foreignkey')
        batch_op.drop_column('waiting_since')
        batch_op.drop_column('queue_tier')
        batch_op.drop_column('branch_id')
