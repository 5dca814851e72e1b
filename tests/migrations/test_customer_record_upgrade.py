"""Upgrading a database with customers in it moves their record into profile version 1."""
import json
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from core import crypto
from core.extensions import db
from tests.migrations.helpers import app_migrated_to, inserter

BEFORE = "c3d4e5f6a7b8"
NOW = datetime(2026, 11, 30, 8, 0)

IDENTITY = {"id_type": "resident_id", "id_number": "11010519491231002X", "name": "张建国", "sex": "M",
            "ethnicity": "汉", "birth_date": "1949-12-31", "address": "北京市朝阳区朝阳门北大街1号",
            "authority": "北京市公安局朝阳分局", "valid_from": "2016-01-01", "valid_to": None}
CONTACT = {"mobile": "13800138000", "email": "zhang@example.com", "address": "北京市东城区东四十条2号",
           "postcode": "100007", "occupation": "retired", "education": "bachelor", "employer": None,
           "tax_residency": "both", "tax_country": "新加坡", "tax_id": "S1234567D"}
AGREEMENTS = {"change_method": "counter", "closure_method": "witness", "bank_code": "ICBC",
              "bank_card": "6222020200112233445", "agreements": ["brokerage"]}


@pytest.fixture
def old_database(tmp_path):
    """An app on a database migrated only to the revision before the customer record, with data in it."""
    return app_migrated_to(tmp_path, BEFORE, _insert_old_rows)


def _insert_old_rows(conn):
    add = inserter(conn)

    add("branch", id=1, code="0101", name="北京朝阳门营业部", is_headquarters=False)
    add("staff", id=1, username="clerk", full_name="王柜员", password_hash="x", role="clerk", branch_id=1,
        is_enabled=True, failed_logins=0, session_version=1, created_at=NOW, is_regular_employee=True, is_marketing=False)
    add("customer", id=1, customer_no="C0101000001", branch_id=1, name=IDENTITY["name"], id_type="resident_id",
        id_number=crypto.encrypt(IDENTITY["id_number"]), id_number_index=crypto.blind_index(IDENTITY["id_number"]),
        kind="current", created_at=NOW)
    # A customer recorded without an opening here: only the key information exists.
    add("customer", id=2, customer_no="C0101000002", branch_id=1, name="李四", id_type="resident_id",
        id_number=crypto.encrypt("110105194912310037"), id_number_index=crypto.blind_index("110105194912310037"),
        kind="historical", created_at=NOW)
    add("application", id=1, reference="KH20261130000001", client_token="t1", branch_id=1, channel="onsite",
        customer_type="individual", status="active", created_by_id=1, created_at=NOW, updated_at=NOW, version=3,
        submission_no=1, customer_name=IDENTITY["name"], id_type="resident_id",
        id_number=crypto.encrypt(IDENTITY["id_number"]), id_number_index=crypto.blind_index(IDENTITY["id_number"]))
    for step_id, (step, data) in enumerate({"identity": IDENTITY, "contact": CONTACT, "agreements": AGREEMENTS}.items(), 1):
        add("application_step", id=step_id, application_id=1, step=step, saved_at=NOW, saved_by_id=1,
            data=crypto.encrypt(json.dumps(data, ensure_ascii=False, sort_keys=True)))
    add("fund_account", id=1, number="010112345678", branch_id=1, customer_id=1, application_id=1, status="active",
        opened_at=NOW)
    questionnaire_id = conn.execute(sa.text("SELECT id FROM questionnaire ORDER BY id LIMIT 1")).scalar()
    add("suitability_assessment", id=1, application_id=1, questionnaire_id=questionnaire_id, answers="{}", score=50,
        investor_class="C3", is_lowest=False, assessor_id=1, assessed_at=NOW, expires_on=date(2028, 11, 30))


def test_upgrade_moves_every_field_of_existing_customers_into_profile_version_1(old_database):
    from flask_migrate import upgrade

    from blueprints.customers.models import Customer, CustomerKindChange, CustomerProfile, IdDocument
    from blueprints.opening.models import Application, SuitabilityAssessment

    with old_database.app_context():
        upgrade()
        customer = db.session.scalar(sa.select(Customer).where(Customer.customer_no == "C0101000001"))
        profile = customer.profile
        assert (customer.profile_version, profile.version, profile.source, profile.application_id) == (1, 1, "migration", 1)
        assert (profile.name, profile.id_type, profile.id_number) == ("张建国", "resident_id", "11010519491231002X")
        assert profile.id_number_index == crypto.blind_index("11010519491231002X")
        assert (profile.sex, profile.birth_date) == ("M", date(1949, 12, 31))
        for field, value in CONTACT.items():
            assert getattr(profile, field) == value, field
        assert profile.mobile_index == crypto.blind_index("13800138000")
        assert (profile.change_method, profile.closure_method) == ("counter", "witness")
        assert (profile.name_key, profile.name_pinyin, profile.name_initials) == ("张建国", "zhangjianguo", "zjg")
        assert customer.customer_type == "individual" and customer.kind == "current"

        document = db.session.scalar(sa.select(IdDocument).where(IdDocument.customer_id == customer.id))
        for field in ("id_type", "id_number", "name", "sex", "ethnicity", "address", "authority"):
            assert getattr(document, field) == IDENTITY[field], field
        assert (document.version, document.birth_date, document.valid_from, document.valid_to) == (
            1, date(1949, 12, 31), date(2016, 1, 1), None)

        assert db.session.get(Application, 1).customer_id == customer.id
        assert db.session.get(SuitabilityAssessment, 1).customer_id == customer.id

        bare = db.session.scalar(sa.select(Customer).where(Customer.customer_no == "C0101000002"))
        assert (bare.name, bare.id_number, bare.kind, bare.profile.source) == ("李四", "110105194912310037", "historical",
                                                                               "migration")
        assert bare.profile.mobile is None
        kinds = db.session.scalars(sa.select(CustomerKindChange.to_kind).order_by(CustomerKindChange.customer_id)).all()
        assert kinds == ["current", "historical"]
        # The encrypted columns are ciphertext in the database.
        raw = db.session.execute(sa.text("SELECT id_number, mobile, address FROM customer_profile WHERE customer_id = 1")).one()
        assert "11010519491231002X" not in raw.id_number and "13800138000" not in raw.mobile
        columns = {c["name"] for c in sa.inspect(db.session.connection()).get_columns("customer")}
        assert not columns & {"name", "id_type", "id_number", "id_number_index"}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CustomerProfile)) == 2


def test_downgrade_puts_the_key_information_back_on_the_customer_row(old_database):
    from flask_migrate import downgrade, upgrade

    with old_database.app_context():
        upgrade()
        downgrade(revision=BEFORE)
        row = db.session.execute(sa.text("SELECT name, id_type, id_number, id_number_index FROM customer WHERE id = 1")).one()
        assert (row.name, row.id_type, crypto.decrypt(row.id_number)) == ("张建国", "resident_id", "11010519491231002X")
        assert row.id_number_index == crypto.blind_index("11010519491231002X")
