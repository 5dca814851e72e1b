"""ID document scans captured during opening; questionnaire individual-2026-v2

Revision ID: f0a1b2c3d4e5
Revises: 894ace78156a
Create Date: 2026-12-01 23:20:00

individual-2026-v2 has the same questions and weights as v1, with what v1 left to
the clerk made data: the age band answered from the ID's birth date, and the options
that exclude the others ("以上均不存在"). v1 stays for the assessments made with it.
"""
import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = 'f0a1b2c3d4e5'
down_revision = '894ace78156a'
branch_labels = None
depends_on = None

VERSION = "individual-2026-v2"
SOURCE = Path(__file__).resolve().parents[2] / "blueprints" / "opening" / "questionnaires" / f"{VERSION}.json"

questionnaire = sa.table(
    "questionnaire",
    sa.column("version", sa.String),
    sa.column("customer_type", sa.String),
    sa.column("title", sa.String),
    sa.column("definition", sa.JSON),
    sa.column("is_active", sa.Boolean),
)


def upgrade():
    op.create_table('application_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('mime', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('original_name', sa.String(length=120), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.Column('review_status', sa.String(length=16), nullable=False),
    sa.Column('review_reason', sa.Text(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_application_document_application_id_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['staff.id'], name=op.f('fk_application_document_reviewed_by_id_staff')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['staff.id'], name=op.f('fk_application_document_uploaded_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_document')),
    sa.UniqueConstraint('application_id', 'kind', 'version', name=op.f('uq_application_document_application_id_kind_version'))
    )
    with op.batch_alter_table('application_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_document_application_id'), ['application_id'], unique=False)

    definition = json.loads(SOURCE.read_text(encoding="utf-8"))
    op.execute(questionnaire.update().where(questionnaire.c.customer_type == "individual").values(is_active=False))
    op.bulk_insert(questionnaire, [{
        "version": definition["version"],
        "customer_type": "individual",
        "title": definition["title"],
        "definition": definition,
        "is_active": True,
    }])


def downgrade():
    op.execute(questionnaire.delete().where(questionnaire.c.version == VERSION))
    op.execute(questionnaire.update().where(questionnaire.c.version == "individual-2026-v1").values(is_active=True))
    with op.batch_alter_table('application_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_document_application_id'))
    op.drop_table('application_document')
