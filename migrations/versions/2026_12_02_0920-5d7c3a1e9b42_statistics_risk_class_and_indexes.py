"""Statistics: the customer's risk class on the customer record, and the indexes the dashboard reads

The risk class of each customer's latest suitability assessment is copied onto the customer
(from then on the approval keeps it), so customers per branch, kind and risk class are
counted from one index. The other indexes serve the period figures: openings, return-visit
attempts, changes and closures within a range of days.

Revision ID: 5d7c3a1e9b42
Revises: b4d2c7e91a03
Create Date: 2026-12-02 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d7c3a1e9b42'
down_revision = 'b4d2c7e91a03'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_fund_account_opened_at_stats', 'fund_account', ['opened_at', 'branch_id', 'status', 'application_id']),
    ('ix_return_visit_visited_at_stats', 'return_visit', ['visited_at', 'application_id', 'outcome']),
    ('ix_customer_branch_kind_risk', 'customer', ['branch_id', 'kind', 'risk_class', 'risk_lowest']),
    ('ix_customer_change_created_at_stats', 'customer_change', ['created_at', 'branch_id', 'kind', 'status']),
    ('ix_account_closure_created_at_stats', 'account_closure', ['created_at', 'branch_id', 'status']),
)


def upgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk_class', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('risk_lowest', sa.Boolean(), server_default=sa.false(), nullable=False))
    latest = ("(SELECT {column} FROM suitability_assessment a WHERE a.customer_id = customer.id "
              "ORDER BY a.id DESC LIMIT 1)")
    op.execute(sa.text(f"UPDATE customer SET risk_class = {latest.format(column='investor_class')}, "
                       f"risk_lowest = COALESCE({latest.format(column='is_lowest')}, :no)")
               .bindparams(sa.bindparam('no', False, type_=sa.Boolean())))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('risk_lowest')
        batch_op.drop_column('risk_class')
