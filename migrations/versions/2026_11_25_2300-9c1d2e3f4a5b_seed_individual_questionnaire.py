"""Seed the individual suitability questionnaire individual-2026-v1

Revision ID: 9c1d2e3f4a5b
Revises: 4b99c9020e57
Create Date: 2026-11-25 23:00:00

The questions and weights are data: this revision stores the versioned JSON file
that ships beside the scoring rules. A new questionnaire gets a new file and a new
revision that deactivates this one; this file is never edited after release.
"""
import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "9c1d2e3f4a5b"
down_revision = "4b99c9020e57"
branch_labels = None
depends_on = None

VERSION = "individual-2026-v1"
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
    definition = json.loads(SOURCE.read_text(encoding="utf-8"))
    op.bulk_insert(questionnaire, [{
        "version": definition["version"],
        "customer_type": "individual",
        "title": definition["title"],
        "definition": definition,
        "is_active": True,
    }])


def downgrade():
    op.execute(questionnaire.delete().where(questionnaire.c.version == VERSION))
