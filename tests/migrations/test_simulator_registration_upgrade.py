"""Upgrading encrypts what the China Clearing simulator registered in plaintext; the app reads it back as before."""
from datetime import datetime

import pytest
import sqlalchemy as sa

from core.extensions import db
from tests.migrations.helpers import app_migrated_to

BEFORE = "9d3f6b1c2e47"
REGISTERED = {"name": "欧阳明月", "mobile": "13987650432", "address": "上海市浦东新区世纪大道1000号8栋2201",
              "postcode": "200120", "email": "oyang@example.cn"}


@pytest.fixture
def old_database(tmp_path):
    def fill(conn):
        conn.execute(sa.text(
            "INSERT INTO sim_csdc_unified_account (id, unified_account_no, id_number_index, name, id_type, status, "
            "id_valid_to, mobile, address, postcode, email, created_at) VALUES (1, '180000000001', 'index-1', "
            ":name, 'resident_id', 'normal', '2036-01-01', :mobile, :address, :postcode, :email, :at)"),
            dict(REGISTERED, at=datetime(2026, 11, 2, 9, 0)))
        conn.execute(sa.text(
            "INSERT INTO sim_csdc_unified_account (id, unified_account_no, id_number_index, name, id_type, status, "
            "created_at) VALUES (2, '180000000002', 'index-2', '李四', 'resident_id', 'normal', :at)"),
            {"at": datetime(2026, 11, 2, 9, 0)})

    return app_migrated_to(tmp_path, BEFORE, fill)


def _raw(conn) -> dict:
    return {row.id: row for row in conn.execute(sa.text(
        "SELECT id, name, mobile, address, postcode, email, id_valid_to FROM sim_csdc_unified_account"))}


def test_upgrade_encrypts_the_registered_details_and_the_simulator_still_reads_them(old_database):
    from flask_migrate import upgrade

    from blueprints.accounts.china_clearing import sim_unified_account

    with old_database.app_context():
        upgrade()
        with db.engine.connect() as conn:
            raw = _raw(conn)
            read = {row.id: row for row in conn.execute(sa.select(sim_unified_account))}
    assert not any(value in str(tuple(raw[1])) for value in REGISTERED.values())
    assert raw[1].id_valid_to == "2036-01-01"
    assert {field: getattr(read[1], field) for field in REGISTERED} == REGISTERED
    assert (read[2].name, read[2].mobile, read[2].email) == ("李四", None, None)


def test_downgrade_gives_the_plaintext_back(old_database):
    from flask_migrate import downgrade, upgrade

    with old_database.app_context():
        upgrade()
        downgrade(revision=BEFORE)
        with db.engine.connect() as conn:
            raw = _raw(conn)
    assert {field: getattr(raw[1], field) for field in REGISTERED} == REGISTERED
