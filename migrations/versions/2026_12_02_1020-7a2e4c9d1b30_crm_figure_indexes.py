"""CRM figures: the customer's grade on the customer record, and the indexes that count service records and complaints

The current grade of each customer is copied onto the customer (from then on grading keeps it),
so customers per branch and grade are counted with the other kept customer counts (next
revision); counting through the grades table took seconds at a million customers. The other indexes serve the period figures: service records
created and complaints received within a range of days.

Revision ID: 7a2e4c9d1b30
Revises: 7a2f4c6e8d10
Create Date: 2026-12-02 10:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a2e4c9d1b30'
down_revision = '7a2f4c6e8d10'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_service_record_created_at_stats', 'service_record', ['created_at', 'branch_id', 'kind', 'status']),
    ('ix_complaint_received_on_stats', 'complaint', ['received_on', 'record_id', 'channel', 'category']),
)


def upgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grade', sa.String(length=16), nullable=True))
    op.execute(sa.text("UPDATE customer SET grade = (SELECT g.grade FROM customer_grade g WHERE g.customer_id = customer.id)"))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('grade')
