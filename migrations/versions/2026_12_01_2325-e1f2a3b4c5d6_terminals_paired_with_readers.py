"""Terminals paired with readers

Revision ID: e1f2a3b4c5d6
Revises: f0a1b2c3d4e5
Create Date: 2026-12-01 23:15:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e1f2a3b4c5d6'
down_revision = 'f0a1b2c3d4e5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('terminal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('paired_by_id', sa.Integer(), nullable=True),
    sa.Column('paired_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_terminal_branch_id_branch')),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff.id'], name=op.f('fk_terminal_created_by_id_staff')),
    sa.ForeignKeyConstraint(['device_id'], ['reader_device.id'], name=op.f('fk_terminal_device_id_reader_device')),
    sa.ForeignKeyConstraint(['paired_by_id'], ['staff.id'], name=op.f('fk_terminal_paired_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_terminal')),
    sa.UniqueConstraint('device_id', name=op.f('uq_terminal_device_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_terminal_token_hash'))
    )
    with op.batch_alter_table('terminal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_terminal_branch_id'), ['branch_id'], unique=False)

    # Reads posted before terminals existed belong to none, so no terminal can use them.
    with op.batch_alter_table('card_read', schema=None) as batch_op:
        batch_op.add_column(sa.Column('terminal_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_card_read_terminal_id'), ['terminal_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_card_read_terminal_id_terminal'), 'terminal', ['terminal_id'], ['id'])


def downgrade():
    with op.batch_alter_table('card_read', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_card_read_terminal_id_terminal'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_card_read_terminal_id'))
        batch_op.drop_column('terminal_id')

    with op.batch_alter_table('terminal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_terminal_branch_id'))

    op.drop_table('terminal')
