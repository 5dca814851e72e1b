"""Legal holds on customer files and the record of each retention purge

Revision ID: c7d1e5f3a2b8
Revises: c5a1e8d2f7b4
Create Date: 2026-12-04 23:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7d1e5f3a2b8'
down_revision = 'c5a1e8d2f7b4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'legal_hold',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('placed_by_id', sa.Integer(), nullable=False),
        sa.Column('placed_at', sa.DateTime(), nullable=False),
        sa.Column('lifted_by_id', sa.Integer(), nullable=True),
        sa.Column('lifted_at', sa.DateTime(), nullable=True),
        sa.Column('lift_reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_legal_hold_customer_id_customer')),
        sa.ForeignKeyConstraint(['lifted_by_id'], ['staff.id'], name=op.f('fk_legal_hold_lifted_by_id_staff')),
        sa.ForeignKeyConstraint(['placed_by_id'], ['staff.id'], name=op.f('fk_legal_hold_placed_by_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_hold')),
    )
    op.create_index(op.f('ix_legal_hold_customer_id'), 'legal_hold', ['customer_id'], unique=False)
    op.create_table(
        'retention_purge',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('cutoff', sa.Date(), nullable=False),
        sa.Column('purged_at', sa.DateTime(), nullable=False),
        sa.Column('run_by', sa.String(length=64), nullable=False),
        sa.Column('erased', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_retention_purge_customer_id_customer')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_purge')),
        sa.UniqueConstraint('customer_id', name=op.f('uq_retention_purge_customer_id')),
    )


def downgrade():
    op.drop_table('retention_purge')
    op.drop_index(op.f('ix_legal_hold_customer_id'), table_name='legal_hold')
    op.drop_table('legal_hold')
