"""China Clearing simulator: the registered name, mobile, address, postcode and e-mail encrypted

The simulator keeps China Clearing's side of the unified accounts in the app's database; what it
registered about a person was plaintext there while the record's own copy was encrypted. Existing
rows are encrypted under the current data key (and decrypted again on downgrade).

Revision ID: b2e7c4a9d1f3
Revises: 9d3f6b1c2e47
Create Date: 2026-12-03 20:50:00

"""
from alembic import op
import sqlalchemy as sa

from core import crypto


# revision identifiers, used by Alembic.
revision = 'b2e7c4a9d1f3'
down_revision = '9d3f6b1c2e47'
branch_labels = None
depends_on = None

TABLE = 'sim_csdc_unified_account'
# column: (its plaintext type before, nullable)
FIELDS = {
    'name': (sa.String(length=60), False),
    'mobile': (sa.String(length=20), True),
    'address': (sa.String(length=200), True),
    'postcode': (sa.String(length=10), True),
    'email': (sa.String(length=120), True),
}


def _rewrite(convert) -> None:
    table = sa.table(TABLE, sa.column('id', sa.Integer), *(sa.column(name, sa.Text) for name in FIELDS))
    connection = op.get_bind()
    rows = connection.execute(sa.select(table.c.id, *(table.c[name] for name in FIELDS))).all()
    for row in rows:
        values = {name: None if getattr(row, name) is None else convert(getattr(row, name)) for name in FIELDS}
        connection.execute(table.update().where(table.c.id == row.id).values(**values))


def upgrade():
    with op.batch_alter_table(TABLE) as batch:
        for name, (before, nullable) in FIELDS.items():
            batch.alter_column(name, existing_type=before, type_=sa.Text(), existing_nullable=nullable)
    _rewrite(crypto.encrypt)


def downgrade():
    _rewrite(crypto.decrypt)
    with op.batch_alter_table(TABLE) as batch:
        for name, (before, nullable) in FIELDS.items():
            batch.alter_column(name, existing_type=sa.Text(), type_=before, existing_nullable=nullable)
