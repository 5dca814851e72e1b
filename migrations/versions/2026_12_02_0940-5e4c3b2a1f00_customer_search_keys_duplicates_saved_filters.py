"""Customer search keys, flagged possible duplicates, saved customer-list filters

Adds customer_search_key (one row per key of a customer's current profile: name, given name,
pinyin readings and initials, keyed hashes of ID number and mobile) and fills it for the
customers already there; the possible-duplicate pairs are found by
`flask --app app customers find-duplicates`. Indexes the numbers searched exactly
(一码通, securities account) and the customer's creation time the list pages by.

Revision ID: 5e4c3b2a1f00
Revises: 6fe130bc0c60
Create Date: 2026-12-02 12:00:00

"""
from alembic import op
import sqlalchemy as sa

from blueprints.search import keys

# revision identifiers, used by Alembic.
revision = '5e4c3b2a1f00'
down_revision = '6fe130bc0c60'
branch_labels = None
depends_on = None

KEY_TYPE = sa.String(length=200).with_variant(sa.String(length=200, collation='C'), 'postgresql')


def upgrade():
    op.create_table(
        'customer_search_key',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('value', KEY_TYPE, nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_search_key_customer_id_customer'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_search_key')),
    )
    with op.batch_alter_table('customer_search_key', schema=None) as batch_op:
        batch_op.create_index('ix_customer_search_key_kind_value', ['kind', 'value', 'customer_id'], unique=False)
        batch_op.create_index('ix_customer_search_key_customer_kind_value', ['customer_id', 'kind', 'value'], unique=False)
    op.create_table(
        'customer_duplicate_flag',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('other_customer_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('found_at', sa.DateTime(), nullable=False),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(), nullable=True),
        sa.Column('review_note', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_duplicate_flag_customer_id_customer')),
        sa.ForeignKeyConstraint(['other_customer_id'], ['customer.id'], name=op.f('fk_customer_duplicate_flag_other_customer_id_customer')),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['staff.id'], name=op.f('fk_customer_duplicate_flag_reviewed_by_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_duplicate_flag')),
        sa.UniqueConstraint('customer_id', 'other_customer_id', 'reason', name=op.f('uq_customer_duplicate_flag_customer_id_other_customer_id_reason')),
    )
    with op.batch_alter_table('customer_duplicate_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_duplicate_flag_other_customer_id'), ['other_customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_duplicate_flag_status'), ['status'], unique=False)
    op.create_table(
        'saved_customer_filter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_saved_customer_filter_staff_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_customer_filter')),
        sa.UniqueConstraint('staff_id', 'name', name=op.f('uq_saved_customer_filter_staff_id_name')),
    )
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_unified_account_no'), ['unified_account_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_created_at'), ['created_at'], unique=False)
    with op.batch_alter_table('securities_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_securities_account_number'), ['number'], unique=False)
    _fill_keys()


def _fill_keys():
    """Keys for the customers already there, from each one's current profile (no decryption needed)."""
    conn = op.get_bind()
    search_key = sa.table('customer_search_key', sa.column('customer_id'), sa.column('kind'), sa.column('value'))
    rows = conn.execute(sa.text(
        "SELECT p.customer_id, p.name, p.id_number_index, p.mobile_index FROM customer_profile p "
        "JOIN customer c ON c.id = p.customer_id AND c.profile_version = p.version ORDER BY p.customer_id"))
    batch = []
    for row in rows:
        for kind, value in sorted(keys.customer_keys(name=row.name, id_number_index=row.id_number_index,
                                                     mobile_index=row.mobile_index)):
            batch.append({"customer_id": row.customer_id, "kind": kind, "value": value})
        if len(batch) >= 5000:
            conn.execute(search_key.insert(), batch)
            batch = []
    if batch:
        conn.execute(search_key.insert(), batch)


def downgrade():
    with op.batch_alter_table('securities_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_securities_account_number'))
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_created_at'))
        batch_op.drop_index(batch_op.f('ix_customer_unified_account_no'))
    op.drop_table('saved_customer_filter')
    with op.batch_alter_table('customer_duplicate_flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_duplicate_flag_status'))
        batch_op.drop_index(batch_op.f('ix_customer_duplicate_flag_other_customer_id'))
    op.drop_table('customer_duplicate_flag')
    with op.batch_alter_table('customer_search_key', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_search_key_customer_kind_value')
        batch_op.drop_index('ix_customer_search_key_kind_value')
    op.drop_table('customer_search_key')
