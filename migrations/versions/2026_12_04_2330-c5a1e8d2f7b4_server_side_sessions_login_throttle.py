"""Server-side staff sessions (staff_session) and the login throttle (login_throttle)

The session cookie carried the session's data (archive purposes in free text among it), signed but
readable; a session now lives in staff_session, its data encrypted, and the cookie holds only a random
id whose SHA-256 the table keeps. staff.session_version goes (ending a session ends its row), and so
does staff.locked_until: failed logins are throttled per typed username and per source address in
login_throttle with growing waits instead of a lock. staff.last_failed_login_at is new: with
failed_logins it tells the owner at their next login. Open sessions do not carry over: everybody logs
in again once.

Revision ID: c5a1e8d2f7b4
Revises: d8b2e4f0a3c6
Create Date: 2026-12-04 23:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5a1e8d2f7b4'
down_revision = 'd8b2e4f0a3c6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'staff_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.Column('end_reason', sa.String(length=32), nullable=True),
        sa.Column('ip', sa.String(length=64), nullable=True),
        sa.Column('user_agent', sa.String(length=64), nullable=True),
        sa.Column('data', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_session_staff_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_session')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_staff_session_token_hash')),
    )
    op.create_index(op.f('ix_staff_session_staff_id'), 'staff_session', ['staff_id'], unique=False)
    op.create_index(op.f('ix_staff_session_last_seen_at'), 'staff_session', ['last_seen_at'], unique=False)
    op.create_table(
        'login_throttle',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=8), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', sa.DateTime(), nullable=False),
        sa.Column('blocked_until', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_throttle')),
        sa.UniqueConstraint('scope', 'key', name=op.f('uq_login_throttle_scope_key')),
    )
    op.create_index(op.f('ix_login_throttle_last_failure_at'), 'login_throttle', ['last_failure_at'], unique=False)
    with op.batch_alter_table('staff') as batch:
        batch.add_column(sa.Column('last_failed_login_at', sa.DateTime(), nullable=True))
        batch.drop_column('session_version')
        batch.drop_column('locked_until')


def downgrade():
    with op.batch_alter_table('staff') as batch:
        batch.add_column(sa.Column('locked_until', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='1'))
        batch.drop_column('last_failed_login_at')
    op.drop_index(op.f('ix_login_throttle_last_failure_at'), table_name='login_throttle')
    op.drop_table('login_throttle')
    op.drop_index(op.f('ix_staff_session_last_seen_at'), table_name='staff_session')
    op.drop_index(op.f('ix_staff_session_staff_id'), table_name='staff_session')
    op.drop_table('staff_session')
