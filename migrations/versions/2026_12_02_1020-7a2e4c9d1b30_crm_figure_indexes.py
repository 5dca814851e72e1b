"""CRM figures: the indexes that count service records, complaints and grades on the dashboard

Service records created in a period per branch, kind and status; complaints received in a
period with their channel and category; customers per grade without reading each grade's
figures.

Revision ID: 7a2e4c9d1b30
Revises: 5e4c3b2a1f00
Create Date: 2026-12-02 10:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '7a2e4c9d1b30'
down_revision = '5e4c3b2a1f00'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_service_record_created_at_stats', 'service_record', ['created_at', 'branch_id', 'kind', 'status']),
    ('ix_complaint_received_on_stats', 'complaint', ['received_on', 'record_id', 'channel', 'category']),
    ('ix_customer_grade_customer_grade', 'customer_grade', ['customer_id', 'grade']),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
