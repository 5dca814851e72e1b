"""Searches kept on the server under an opaque key (table kept_search)

A name, ID number or mobile typed into a search is kept here, encrypted, for the staff member who
typed it; the results page's URL carries only the random key, so reload, back and paging work
without a personal value in any URL or server log. Nothing to carry over.

Revision ID: e5a1c7d3b9f2
Revises: b2e7c4a9d1f3
Create Date: 2026-12-04 23:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5a1c7d3b9f2'
down_revision = 'b2e7c4a9d1f3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'kept_search',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=32), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=24), nullable=False),
        sa.Column('criteria', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_kept_search_staff_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_kept_search')),
        sa.UniqueConstraint('key', name=op.f('uq_kept_search_key')),
    )
    with op.batch_alter_table('kept_search', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kept_search_staff_id'), ['staff_id'], unique=False)


def downgrade():
    with op.batch_alter_table('kept_search', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kept_search_staff_id'))
    op.drop_table('kept_search')
