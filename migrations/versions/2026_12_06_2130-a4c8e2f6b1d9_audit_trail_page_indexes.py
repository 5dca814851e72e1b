"""Audit trail page: entries by branch, by user and by object, each newest first

Revision ID: a4c8e2f6b1d9
Revises: c7d1e5f3a2b8
Create Date: 2026-12-06 21:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a4c8e2f6b1d9'
down_revision = 'c7d1e5f3a2b8'
branch_labels = None
depends_on = None


def upgrade():
    # Plain CREATE INDEX: the append-only table is never copied (a batch rebuild would rewrite it).
    op.create_index('ix_audit_event_branch_at', 'audit_event', ['branch_id', 'at', 'id'], unique=False)
    op.create_index('ix_audit_event_actor_at', 'audit_event', ['actor_name', 'at', 'id'], unique=False)
    op.create_index('ix_audit_event_object_at', 'audit_event', ['object_id', 'at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_audit_event_object_at', table_name='audit_event')
    op.drop_index('ix_audit_event_actor_at', table_name='audit_event')
    op.drop_index('ix_audit_event_branch_at', table_name='audit_event')
