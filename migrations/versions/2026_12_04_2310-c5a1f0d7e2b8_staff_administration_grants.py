"""Staff administration: qualification and employment dates, first-login password change, fact history, HQ grants

Adds to staff the dates of the 第十七条 facts, must_change_password, password_changed_at and admin_version;
the history of fact changes (staff_fact_change); HQ's grants of businesses to branches (business_grant)
and their history (business_grant_change). Every existing branch is granted every business, so nothing
that works today stops working; HQ withdraws what a branch may not do.

Revision ID: c5a1f0d7e2b8
Revises: e5a1c7d3b9f2
Create Date: 2026-12-04 23:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5a1f0d7e2b8'
down_revision = 'e5a1c7d3b9f2'
branch_labels = None
depends_on = None

# The businesses as of this revision (blueprints/staff_admin/businesses.py may add more later).
BUSINESSES = ("opening", "witness_opening", "review", "return_visit", "changes", "closure", "archive",
              "service", "managers", "merges", "prospects")


def upgrade():
    with op.batch_alter_table('staff') as batch:
        batch.add_column(sa.Column('qualification_obtained_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('regular_employee_since', sa.Date(), nullable=True))
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('password_changed_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('admin_version', sa.Integer(), server_default='1', nullable=False))
    op.create_table(
        'staff_fact_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=40), nullable=False),
        sa.Column('old_value', sa.String(length=64), nullable=True),
        sa.Column('new_value', sa.String(length=64), nullable=True),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('changed_by_id', sa.Integer(), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['changed_by_id'], ['staff.id'], name=op.f('fk_staff_fact_change_changed_by_id_staff')),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_fact_change_staff_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_fact_change')),
    )
    op.create_index(op.f('ix_staff_fact_change_staff_id'), 'staff_fact_change', ['staff_id'])
    op.create_table(
        'business_grant',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('branch_id', sa.Integer(), nullable=False),
        sa.Column('business', sa.String(length=32), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('changed_by_id', sa.Integer(), nullable=True),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_business_grant_branch_id_branch')),
        sa.ForeignKeyConstraint(['changed_by_id'], ['staff.id'], name=op.f('fk_business_grant_changed_by_id_staff')),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['staff.id'], name=op.f('fk_business_grant_reviewed_by_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_business_grant')),
        sa.UniqueConstraint('branch_id', 'business', 'role', name=op.f('uq_business_grant_branch_id_business_role')),
    )
    op.create_index(op.f('ix_business_grant_branch_id'), 'business_grant', ['branch_id'])
    op.create_table(
        'business_grant_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('grant_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=True),
        sa.Column('by_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['by_id'], ['staff.id'], name=op.f('fk_business_grant_change_by_id_staff')),
        sa.ForeignKeyConstraint(['grant_id'], ['business_grant.id'], name=op.f('fk_business_grant_change_grant_id_business_grant'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_business_grant_change')),
    )
    op.create_index(op.f('ix_business_grant_change_grant_id'), 'business_grant_change', ['grant_id'])
    _grant_every_branch_everything()


def _grant_every_branch_everything():
    connection = op.get_bind()
    branch = sa.table('branch', sa.column('id', sa.Integer))
    grant = sa.table('business_grant', sa.column('branch_id', sa.Integer), sa.column('business', sa.String),
                     sa.column('role', sa.String), sa.column('active', sa.Boolean), sa.column('reason', sa.String),
                     sa.column('changed_at', sa.DateTime), sa.column('version', sa.Integer))
    now = sa.func.current_timestamp()
    rows = [{"branch_id": branch_id, "business": business, "role": "*", "active": True,
             "reason": "启用总部赋权时原有业务全部保留", "version": 1}
            for branch_id in connection.execute(sa.select(branch.c.id)).scalars() for business in BUSINESSES]
    for row in rows:
        connection.execute(grant.insert().values(changed_at=now, **row))


def downgrade():
    op.drop_index(op.f('ix_business_grant_change_grant_id'), table_name='business_grant_change')
    op.drop_table('business_grant_change')
    op.drop_index(op.f('ix_business_grant_branch_id'), table_name='business_grant')
    op.drop_table('business_grant')
    op.drop_index(op.f('ix_staff_fact_change_staff_id'), table_name='staff_fact_change')
    op.drop_table('staff_fact_change')
    with op.batch_alter_table('staff') as batch:
        batch.drop_column('admin_version')
        batch.drop_column('password_changed_at')
        batch.drop_column('must_change_password')
        batch.drop_column('regular_employee_since')
        batch.drop_column('qualification_obtained_on')
