"""Return visit rounds

Revision ID: b7e1a0c0ffee
Revises: d5e6f7a8b9c0
Create Date: 2026-12-01 23:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e1a0c0ffee'
down_revision = 'd5e6f7a8b9c0'
branch_labels = None
depends_on = None


def upgrade():
    # Calls recorded before rounds existed all belong to the first round.
    with op.batch_alter_table('return_visit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round_no', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('return_visit', schema=None) as batch_op:
        batch_op.drop_column('round_no')
