"""The customer record: profile versions, ID documents, customer and account lifecycles

Moves what each existing customer has (the key information on the customer row, and the
contact, profile and agreed methods in the step data of the applications that opened their
accounts) into profile versions and ID document versions, links applications and
assessments to their customer, and drops the key-information columns from the customer row.

Revision ID: a9c8e7d6f5b4
Revises: c3d4e5f6a7b8
Create Date: 2026-12-02 03:10:00

"""
import json
from datetime import date, datetime, timezone

from alembic import op
import sqlalchemy as sa

from blueprints.customers import names
from core import crypto

# revision identifiers, used by Alembic.
revision = 'a9c8e7d6f5b4'
down_revision = 'c3d4e5f6a7b8'
branch_labels = None
depends_on = None

CONTACT_FIELDS = ("mobile", "email", "address", "postcode", "occupation", "education", "employer",
                  "tax_residency", "tax_country", "tax_id")
ENCRYPTED_PROFILE_FIELDS = ("mobile", "email", "address", "tax_id")


def _now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _create_tables():
    op.create_table('customer_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('id_type', sa.String(length=32), nullable=False),
    sa.Column('id_number', sa.Text(), nullable=False),
    sa.Column('id_number_index', sa.String(length=64), nullable=False),
    sa.Column('name_key', sa.String(length=60), nullable=False),
    sa.Column('name_pinyin', sa.String(length=240), nullable=False),
    sa.Column('name_initials', sa.String(length=60), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('mobile', sa.Text(), nullable=True),
    sa.Column('mobile_index', sa.String(length=64), nullable=True),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('postcode', sa.String(length=6), nullable=True),
    sa.Column('occupation', sa.String(length=32), nullable=True),
    sa.Column('education', sa.String(length=32), nullable=True),
    sa.Column('employer', sa.String(length=100), nullable=True),
    sa.Column('tax_residency', sa.String(length=16), nullable=True),
    sa.Column('tax_country', sa.String(length=60), nullable=True),
    sa.Column('tax_id', sa.Text(), nullable=True),
    sa.Column('change_method', sa.String(length=16), nullable=True),
    sa.Column('closure_method', sa.String(length=16), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_customer_profile_application_id_application')),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff.id'], name=op.f('fk_customer_profile_created_by_id_staff')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_profile_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_profile')),
    sa.UniqueConstraint('customer_id', 'version', name=op.f('uq_customer_profile_customer_id_version'))
    )
    with op.batch_alter_table('customer_profile', schema=None) as batch_op:
        for column in ('application_id', 'customer_id', 'id_number_index', 'mobile_index', 'name_initials',
                       'name_key', 'name_pinyin'):
            batch_op.create_index(batch_op.f(f'ix_customer_profile_{column}'), [column], unique=False)

    op.create_table('customer_id_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id_type', sa.String(length=32), nullable=False),
    sa.Column('id_number', sa.Text(), nullable=False),
    sa.Column('id_number_index', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=True),
    sa.Column('ethnicity', sa.String(length=16), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('authority', sa.String(length=60), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('superseded_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_customer_id_document_application_id_application')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_id_document_customer_id_customer')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff.id'], name=op.f('fk_customer_id_document_recorded_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_id_document')),
    sa.UniqueConstraint('customer_id', 'version', name=op.f('uq_customer_id_document_customer_id_version'))
    )
    with op.batch_alter_table('customer_id_document', schema=None) as batch_op:
        for column in ('customer_id', 'id_number_index', 'valid_to'):
            batch_op.create_index(batch_op.f(f'ix_customer_id_document_{column}'), [column], unique=False)

    op.create_table('customer_kind_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('from_kind', sa.String(length=16), nullable=True),
    sa.Column('to_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], name=op.f('fk_customer_kind_change_actor_id_staff')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_kind_change_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_kind_change'))
    )
    with op.batch_alter_table('customer_kind_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_kind_change_customer_id'), ['customer_id'], unique=False)

    op.create_table('account_status_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fund_account_id', sa.Integer(), nullable=False),
    sa.Column('securities_account_id', sa.Integer(), nullable=True),
    sa.Column('from_status', sa.String(length=16), nullable=False),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], name=op.f('fk_account_status_change_actor_id_staff')),
    sa.ForeignKeyConstraint(['fund_account_id'], ['fund_account.id'], name=op.f('fk_account_status_change_fund_account_id_fund_account')),
    sa.ForeignKeyConstraint(['securities_account_id'], ['securities_account.id'], name=op.f('fk_account_status_change_securities_account_id_securities_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_status_change'))
    )
    with op.batch_alter_table('account_status_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_status_change_fund_account_id'), ['fund_account_id'], unique=False)


def _add_links():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_type', sa.String(length=16), nullable=False, server_default='individual'))
        batch_op.add_column(sa.Column('profile_version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_customer_branch_id'), ['branch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_kind'), ['kind'], unique=False)
    for table in ('application', 'suitability_assessment', 'outbox_message'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('customer_id', sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f'ix_{table}_customer_id'), ['customer_id'], unique=False)
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_customer_id_customer'), 'customer', ['customer_id'], ['id'])


def _decrypt(token):
    return None if token is None else crypto.decrypt(token)


def _encrypt(value):
    return None if value in (None, "") else crypto.encrypt(value)


def _date(value):
    return date.fromisoformat(value) if value else None


def _steps(conn, application_id):
    rows = conn.execute(sa.text("SELECT step, data FROM application_step WHERE application_id = :a"),
                        {"a": application_id})
    return {row.step: json.loads(crypto.decrypt(row.data)) for row in rows}


def _profile_row(customer, version, identity, contact, agreements, application_id):
    name = identity.get("name") or customer.name
    id_number = identity.get("id_number") or _decrypt(customer.id_number)
    mobile = contact.get("mobile")
    row = {
        "customer_id": customer.id, "version": version, "source": "migration", "application_id": application_id,
        "created_by_id": None, "created_at": _now(),
        "name": name, "id_type": identity.get("id_type") or customer.id_type, "id_number": crypto.encrypt(id_number),
        "id_number_index": crypto.blind_index(id_number),
        "name_key": names.name_key(name), "name_pinyin": names.name_pinyin(name), "name_initials": names.name_initials(name),
        "sex": identity.get("sex"), "birth_date": _date(identity.get("birth_date")),
        "mobile_index": crypto.blind_index(mobile),
        "change_method": agreements.get("change_method"), "closure_method": agreements.get("closure_method"),
    }
    for field in CONTACT_FIELDS:
        value = contact.get(field)
        row[field] = _encrypt(value) if field in ENCRYPTED_PROFILE_FIELDS else value
    return row


def _move_data():
    conn = op.get_bind()
    profiles = sa.table('customer_profile', *(sa.column(c) for c in (
        'customer_id', 'version', 'source', 'application_id', 'created_by_id', 'created_at', 'name', 'id_type',
        'id_number', 'id_number_index', 'name_key', 'name_pinyin', 'name_initials', 'sex', 'birth_date',
        'mobile_index', 'change_method', 'closure_method', *CONTACT_FIELDS)))
    documents = sa.table('customer_id_document', *(sa.column(c) for c in (
        'customer_id', 'version', 'id_type', 'id_number', 'id_number_index', 'name', 'sex', 'ethnicity', 'birth_date',
        'address', 'authority', 'valid_from', 'valid_to', 'source', 'application_id', 'recorded_by_id',
        'recorded_at', 'superseded_at')))
    kinds = sa.table('customer_kind_change', *(sa.column(c) for c in ('customer_id', 'from_kind', 'to_kind', 'actor_id',
                                                                       'at', 'reason')))
    customers = conn.execute(sa.text("SELECT id, name, id_type, id_number, kind FROM customer ORDER BY id")).all()
    for customer in customers:
        application_ids = [row[0] for row in conn.execute(sa.text(
            "SELECT application_id FROM fund_account WHERE customer_id = :c ORDER BY id"), {"c": customer.id})]
        version = 0
        for application_id in application_ids:
            steps = _steps(conn, application_id)
            identity = steps.get("identity") or {}
            version += 1
            conn.execute(profiles.insert().values(**_profile_row(
                customer, version, identity, steps.get("contact") or {}, steps.get("agreements") or {}, application_id)))
            if identity:
                conn.execute(sa.text("UPDATE customer_id_document SET superseded_at = :now "
                                     "WHERE customer_id = :c AND superseded_at IS NULL"), {"now": _now(), "c": customer.id})
                conn.execute(documents.insert().values(
                    customer_id=customer.id, version=version, id_type=identity["id_type"],
                    id_number=crypto.encrypt(identity["id_number"]), id_number_index=crypto.blind_index(identity["id_number"]),
                    name=identity["name"], sex=identity.get("sex"), ethnicity=identity.get("ethnicity"),
                    birth_date=_date(identity.get("birth_date")), address=_encrypt(identity.get("address")),
                    authority=identity.get("authority"), valid_from=_date(identity.get("valid_from")),
                    valid_to=_date(identity.get("valid_to")), source="migration", application_id=application_id,
                    recorded_by_id=None, recorded_at=_now(), superseded_at=None))
            conn.execute(sa.text("UPDATE application SET customer_id = :c WHERE id = :a"),
                         {"c": customer.id, "a": application_id})
            conn.execute(sa.text("UPDATE suitability_assessment SET customer_id = :c WHERE application_id = :a"),
                         {"c": customer.id, "a": application_id})
        if version == 0:  # a customer recorded without an opening here: the key information only
            version = 1
            conn.execute(profiles.insert().values(**_profile_row(customer, version, {}, {}, {}, None)))
        conn.execute(sa.text("UPDATE customer SET profile_version = :v WHERE id = :c"), {"v": version, "c": customer.id})
        conn.execute(kinds.insert().values(customer_id=customer.id, from_kind=None, to_kind=customer.kind, actor_id=None,
                                           at=_now(), reason="迁移：既有客户档案"))


def upgrade():
    _create_tables()
    _add_links()
    _move_data()
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_id_number_index'))
        batch_op.drop_column('id_number_index')
        batch_op.drop_column('id_number')
        batch_op.drop_column('id_type')
        batch_op.drop_column('name')


def downgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('id_type', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('id_number', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('id_number_index', sa.String(length=64), nullable=True))
    conn = op.get_bind()
    conn.execute(sa.text(
        "UPDATE customer SET name = p.name, id_type = p.id_type, id_number = p.id_number, "
        "id_number_index = p.id_number_index FROM customer_profile p "
        "WHERE p.customer_id = customer.id AND p.version = customer.profile_version"))
    with op.batch_alter_table('customer', schema=None) as batch_op:
        for column in ('name', 'id_type', 'id_number', 'id_number_index'):
            batch_op.alter_column(column, nullable=False)
        batch_op.create_index(batch_op.f('ix_customer_id_number_index'), ['id_number_index'], unique=False)
        batch_op.drop_index(batch_op.f('ix_customer_kind'))
        batch_op.drop_index(batch_op.f('ix_customer_branch_id'))
        batch_op.drop_column('closed_at')
        batch_op.drop_column('profile_version')
        batch_op.drop_column('customer_type')
    for table in ('outbox_message', 'suitability_assessment', 'application'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_customer_id_customer'), type_='foreignkey')
            batch_op.drop_index(batch_op.f(f'ix_{table}_customer_id'))
            batch_op.drop_column('customer_id')
    for table in ('account_status_change', 'customer_kind_change', 'customer_id_document', 'customer_profile'):
        op.drop_table(table)
