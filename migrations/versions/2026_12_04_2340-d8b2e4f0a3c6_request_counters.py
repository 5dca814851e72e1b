"""Request counters: fixed windows per source, shared by every worker (rate limits)

Revision ID: d8b2e4f0a3c6
Revises: c7a1f3e9b2d5
Create Date: 2026-12-04 23:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd8b2e4f0a3c6'
down_revision = 'c7a1f3e9b2d5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('request_counter',
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.DateTime(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'source', 'window_start', name=op.f('pk_request_counter'))
    )


def downgrade():
    op.drop_table('request_counter')
