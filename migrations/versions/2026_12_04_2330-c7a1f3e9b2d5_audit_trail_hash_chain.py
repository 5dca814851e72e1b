"""Audit trail: a hash chain over its entries, append-only on PostgreSQL

Every audit_event row gets its place in the chain (seq), the previous entry's hash and its own
(an HMAC keyed from the app's keys, core.audit). Existing rows are chained in order of id. On
PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE on the table, and PUBLIC loses those
privileges (the app's own role must be set up without them too, see docs/deploy.md).

Revision ID: c7a1f3e9b2d5
Revises: c5a1f0d7e2b8
Create Date: 2026-12-04 23:30:00

"""
from types import SimpleNamespace

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7a1f3e9b2d5'
down_revision = 'c5a1f0d7e2b8'
branch_labels = None
depends_on = None

APPEND_ONLY = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM PUBLIC;
"""


def _chain_existing_rows() -> None:
    from core.audit import GENESIS, chain_key, entry_hash

    table = sa.table('audit_event', *(sa.column(name) for name in (
        'id', 'actor_id', 'actor_name', 'branch_id', 'action', 'object_type', 'object_id', 'ip')),
        sa.column('at', sa.DateTime), sa.column('detail', sa.JSON),
        sa.column('seq', sa.Integer), sa.column('prev_hash', sa.String), sa.column('hash', sa.String))
    connection = op.get_bind()
    key, previous = chain_key(), GENESIS
    rows = connection.execute(sa.select(table).order_by(table.c.id)).all()
    for seq, row in enumerate(rows, start=1):
        entry = SimpleNamespace(**{**row._mapping, 'seq': seq, 'prev_hash': previous})
        entry.hash = entry_hash(key, entry)
        connection.execute(table.update().where(table.c.id == row.id)
                           .values(seq=seq, prev_hash=previous, hash=entry.hash))
        previous = entry.hash


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    _chain_existing_rows()
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_event_seq'), ['seq'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(APPEND_ONLY)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event; "
                   "DROP TRIGGER audit_event_no_change ON audit_event; "
                   "DROP FUNCTION audit_event_append_only()")
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_event_seq'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
