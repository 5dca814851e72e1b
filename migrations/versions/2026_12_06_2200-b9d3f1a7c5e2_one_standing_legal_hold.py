"""Legal holds: one standing hold per customer (two placed at once: the second is refused)

Revision ID: b9d3f1a7c5e2
Revises: a4c8e2f6b1d9
Create Date: 2026-12-06 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b9d3f1a7c5e2'
down_revision = 'a4c8e2f6b1d9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('uq_legal_hold_standing', 'legal_hold', ['customer_id'], unique=True,
                    sqlite_where=sa.text('lifted_at IS NULL'), postgresql_where=sa.text('lifted_at IS NULL'))


def downgrade():
    op.drop_index('uq_legal_hold_standing', table_name='legal_hold')
