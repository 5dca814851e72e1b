"""Statistics: the channel on the fund account, the branch on the return visit, kept customer counts; queue indexes

The opening figures read the channel and the visit figures the branch from their own rows, so
each is one covering index range with no lookup of the application; the customers per
branch, kind, risk class and grade are kept in customer_count by every change instead of counted
per request. All three are back-filled from the existing rows. Two covering indexes serve the
home page's queue counts (applications by status, fund accounts being opened).

Revision ID: 8a3f6d2c1b70
Revises: 7a2e4c9d1b30
Create Date: 2026-12-02 10:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8a3f6d2c1b70'
down_revision = '7a2e4c9d1b30'
branch_labels = None
depends_on = None

OLD_INDEXES = (
    ('ix_fund_account_opened_at_stats', 'fund_account', ['opened_at', 'branch_id', 'status', 'application_id']),
    ('ix_return_visit_visited_at_stats', 'return_visit', ['visited_at', 'application_id', 'outcome']),
)
NEW_INDEXES = (
    ('ix_fund_account_opened_at_channel', 'fund_account', ['opened_at', 'branch_id', 'channel', 'status']),
    ('ix_return_visit_visited_at_branch', 'return_visit', ['visited_at', 'branch_id', 'outcome']),
    # The home page's queues.
    ('ix_application_queue', 'application', ['status', 'created_by_id', 'branch_id', 'created_at']),
    ('ix_fund_account_status', 'fund_account', ['status', 'branch_id', 'application_id', 'opened_at']),
    ('ix_application_branch_queue', 'application', ['branch_id', 'status', 'created_at']),
)


def upgrade():
    with op.batch_alter_table('fund_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), nullable=True))
    with op.batch_alter_table('return_visit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('branch_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_return_visit_branch_id_branch'), 'branch', ['branch_id'], ['id'])
    op.execute("UPDATE fund_account SET channel = "
               "(SELECT a.channel FROM application a WHERE a.id = fund_account.application_id)")
    op.execute("UPDATE return_visit SET branch_id = "
               "(SELECT a.branch_id FROM application a WHERE a.id = return_visit.application_id)")
    for name, table, _columns in OLD_INDEXES:
        op.drop_index(name, table_name=table)
    for name, table, columns in NEW_INDEXES:
        op.create_index(name, table, columns, unique=False)

    op.create_table(
        'customer_count',
        sa.Column('branch_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('risk_class', sa.String(length=4), nullable=False),
        sa.Column('risk_lowest', sa.Boolean(), nullable=False),
        sa.Column('grade', sa.String(length=16), server_default='', nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_customer_count_branch_id_branch')),
        sa.PrimaryKeyConstraint('branch_id', 'kind', 'risk_class', 'risk_lowest', 'grade', name=op.f('pk_customer_count')),
    )
    op.execute("INSERT INTO customer_count (branch_id, kind, risk_class, risk_lowest, grade, n) "
               "SELECT branch_id, kind, COALESCE(risk_class, ''), risk_lowest, COALESCE(grade, ''), COUNT(*) FROM customer "
               "GROUP BY branch_id, kind, COALESCE(risk_class, ''), risk_lowest, COALESCE(grade, '')")


def downgrade():
    op.drop_table('customer_count')
    for name, table, _columns in NEW_INDEXES:
        op.drop_index(name, table_name=table)
    for name, table, columns in OLD_INDEXES:
        op.create_index(name, table, columns, unique=False)
    with op.batch_alter_table('return_visit', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_return_visit_branch_id_branch'), type_='foreignkey')
        batch_op.drop_column('branch_id')
    with op.batch_alter_table('fund_account', schema=None) as batch_op:
        batch_op.drop_column('channel')
