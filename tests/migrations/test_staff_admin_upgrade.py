"""Upgrading grants every existing branch every business, so nothing that worked stops; downgrading removes the grants."""
import pytest
import sqlalchemy as sa

from blueprints.staff_admin.businesses import BUSINESSES
from core.extensions import db
from tests.migrations.helpers import app_migrated_to, inserter

BEFORE = "e5a1c7d3b9f2"


@pytest.fixture
def old_database(tmp_path):
    def fill(conn):
        add = inserter(conn)
        add("branch", id=1, code="0000", name="总部", is_headquarters=True)
        add("branch", id=2, code="0101", name="北京营业部", is_headquarters=False)

    return app_migrated_to(tmp_path, BEFORE, fill)


def test_upgrade_grants_every_existing_branch_every_business(old_database):
    from flask_migrate import downgrade, upgrade

    with old_database.app_context():
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT branch_id, business, role, active FROM business_grant")).all()
        assert {(r.branch_id, r.business) for r in rows} == {(b, name) for b in (1, 2) for name in BUSINESSES}
        assert all(r.role == "*" and r.active for r in rows)
        downgrade(revision=BEFORE)
        with db.engine.connect() as conn:
            assert "business_grant" not in sa.inspect(conn).get_table_names()
