"""Customer merge: the reviewed business that merges two records of one person, and the merged record's pointer

customer_merge keeps each merge (which record carries on, why, who entered and who decided it); one
pending merge per absorbed record is enforced by a partial unique index. customer.merged_into_id
points a merged record to the one it went into; it is added in place (no table copy on SQLite).

Revision ID: 4ec9e3abb395
Revises: 8a3f6d2c1b70
Create Date: 2026-12-02 21:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4ec9e3abb395'
down_revision = '8a3f6d2c1b70'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('customer_merge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('client_token', sa.String(length=64), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=True),
    sa.Column('survivor_id', sa.Integer(), nullable=False),
    sa.Column('absorbed_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('cross_branch', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=True),
    sa.Column('absorbed_kind_before', sa.String(length=16), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['absorbed_id'], ['customer.id'], name=op.f('fk_customer_merge_absorbed_id_customer')),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_customer_merge_branch_id_branch')),
    sa.ForeignKeyConstraint(['flag_id'], ['customer_duplicate_flag.id'], name=op.f('fk_customer_merge_flag_id_customer_duplicate_flag')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['staff.id'], name=op.f('fk_customer_merge_requested_by_id_staff')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['staff.id'], name=op.f('fk_customer_merge_reviewer_id_staff')),
    sa.ForeignKeyConstraint(['survivor_id'], ['customer.id'], name=op.f('fk_customer_merge_survivor_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_merge')),
    sa.UniqueConstraint('client_token', name=op.f('uq_customer_merge_client_token')),
    sa.UniqueConstraint('reference', name=op.f('uq_customer_merge_reference'))
    )
    with op.batch_alter_table('customer_merge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_merge_absorbed_id'), ['absorbed_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merge_branch_id'), ['branch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merge_flag_id'), ['flag_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merge_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merge_survivor_id'), ['survivor_id'], unique=False)
        batch_op.create_index('uq_customer_merge_pending_absorbed', ['absorbed_id'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    # A nullable column with its reference is added in place, on SQLite too: no copy of a million customers.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE customer ADD COLUMN merged_into_id INTEGER '
                   'CONSTRAINT fk_customer_merged_into_id_customer REFERENCES customer (id)')
    else:
        op.add_column('customer', sa.Column('merged_into_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_customer_merged_into_id_customer'), 'customer', 'customer',
                              ['merged_into_id'], ['id'])
    op.create_index(op.f('ix_customer_merged_into_id'), 'customer', ['merged_into_id'], unique=False)



def downgrade():
    op.drop_index(op.f('ix_customer_merged_into_id'), table_name='customer')
    if op.get_bind().dialect.name == 'sqlite':
        # The column's reference goes with the column when the table is rebuilt.
        with op.batch_alter_table('customer', schema=None) as batch_op:
            batch_op.drop_column('merged_into_id')
    else:
        op.drop_constraint(op.f('fk_customer_merged_into_id_customer'), 'customer', type_='foreignkey')
        op.drop_column('customer', 'merged_into_id')

    with op.batch_alter_table('customer_merge', schema=None) as batch_op:
        batch_op.drop_index('uq_customer_merge_pending_absorbed', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_customer_merge_survivor_id'))
        batch_op.drop_index(batch_op.f('ix_customer_merge_status'))
        batch_op.drop_index(batch_op.f('ix_customer_merge_flag_id'))
        batch_op.drop_index(batch_op.f('ix_customer_merge_branch_id'))
        batch_op.drop_index(batch_op.f('ix_customer_merge_absorbed_id'))

    op.drop_table('customer_merge')
