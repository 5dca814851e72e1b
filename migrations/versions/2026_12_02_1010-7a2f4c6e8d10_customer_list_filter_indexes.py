"""Customer list: an index per equality filter (branch, kind, risk class) followed by the list's order

The customer list pages newest first (created_at, id) by keyset; each of these lets a filtered
page walk one index from its cursor instead of reading every match and sorting it. Saved filters
use the table `saved_customer_filter` added by 5e4c3b2a1f00.

Revision ID: 7a2f4c6e8d10
Revises: 7a1d5c3e8f20
Create Date: 2026-12-02 10:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '7a2f4c6e8d10'
down_revision = '7a1d5c3e8f20'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_customer_branch_created_at', ['branch_id', 'created_at', 'id']),
    ('ix_customer_kind_created_at', ['kind', 'created_at', 'id']),
    ('ix_customer_risk_class_created_at', ['risk_class', 'created_at', 'id']),
)


def upgrade():
    for name, columns in INDEXES:
        op.create_index(name, 'customer', columns, unique=False)


def downgrade():
    for name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name='customer')
