"""`flask archive purge`: only files whose twenty years are over and that no legal hold keeps; the audit trail stays."""
import hashlib
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from blueprints.archive import services as archive
from blueprints.auth.models import Staff
from blueprints.customers import services as customer_services
from blueprints.customers.lifecycle import CustomerKind
from blueprints.customers.models import Customer, CustomerProfile, IdDocument
from blueprints.retention.models import LegalHold, RetentionPurge
from blueprints.search.models import CustomerSearchKey
from core import files
from core.extensions import db
from core.models import AuditEvent
from tests import factories
from tests.lifecycle import activate_customer
from tests.requests.test_archive import png_bytes

CLOSED = datetime(2026, 6, 30, 2, 0)  # 10:00 Beijing time
DUE = date(2046, 6, 30)


@pytest.fixture
def closed_customer(app, auth, file_store):
    """A customer closed on 2026-06-30 with a scan in the archive: (customer_no, id_number, scan sha256)."""
    auth.login()
    identity = factories.identity(name="刘䶮")
    customer_no = activate_customer(app, auth, name="刘䶮")
    scan = png_bytes(30, 20)
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        archivist = db.session.scalar(select(Staff).where(Staff.username == "archivist"))
        archive.add_scan(customer, "id_front", scan, "front.png", archivist)
        customer_services.change_kind(customer, CustomerKind.HISTORICAL, None, "销户完成")
        customer.closed_at = CLOSED
        db.session.commit()
    return customer_no, identity["id_number"], hashlib.sha256(scan).hexdigest()


@pytest.fixture
def in_year(monkeypatch):
    """Move the purge's clock to a given day."""
    def move(day: date):
        monkeypatch.setattr("blueprints.retention.services.business_today", lambda: day)
        monkeypatch.setattr("blueprints.retention.cli.business_today", lambda: day)
    return move


def _purge(app, *args):
    return app.test_cli_runner().invoke(args=["archive", "purge", *args])


def _audit_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def _profile(app, customer_no):
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        profile = db.session.scalar(select(CustomerProfile).where(CustomerProfile.customer_id == customer.id))
        document = db.session.scalar(select(IdDocument).where(IdDocument.customer_id == customer.id))
        keys = db.session.scalar(select(func.count()).select_from(CustomerSearchKey)
                                 .where(CustomerSearchKey.customer_id == customer.id))
        db.session.expunge_all()
        return profile, document, keys


def test_a_file_twenty_years_after_closure_is_erased_and_the_audit_trail_stays(app, closed_customer, file_store,
                                                                                in_year):
    customer_no, id_number, scan_sha = closed_customer
    in_year(date(2046, 7, 1))
    audit_before = _audit_rows(app)

    dry = _purge(app, "--before", "2046-06-30", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"{customer_no}\twould purge\t保管期限已满（销户日 2026-06-30，期满日 2046-06-30）" in dry.output
    assert _profile(app, customer_no)[0].name == "刘䶮" and file_store.exists(scan_sha)

    done = _purge(app, "--before", "2046-06-30")

    assert done.exit_code == 0, done.output
    assert f"{customer_no}\tpurged" in done.output and "purged 1" in done.output
    profile, document, keys = _profile(app, customer_no)
    assert (profile.name, profile.id_number, profile.mobile, profile.address) == ("已清除", "", None, None)
    assert (document.name, document.id_number, document.address) == ("已清除", "", None)
    assert keys == 0
    assert not file_store.exists(scan_sha)
    with app.app_context():
        assert db.session.scalar(select(Customer).where(customer_services.with_id_number(id_number))) is None
        assert db.session.scalar(select(func.count()).select_from(RetentionPurge)) == 1
        purged = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "retention.purged"))
        assert purged.detail["due_on"] == "2046-06-30" and purged.detail["files"] >= 1  # the opening scans too
    assert _audit_rows(app) == audit_before + 1  # nothing of the trail removed
    again = _purge(app, "--before", "2046-06-30", "--customer", customer_no)
    assert "已清除，无需再次处理" in again.output and again.exit_code == 1


def test_a_file_not_yet_due_is_refused_with_its_date(app, closed_customer, in_year):
    customer_no, _, _ = closed_customer
    in_year(date(2046, 6, 29))
    result = _purge(app, "--before", "2046-06-29", "--customer", customer_no)
    assert result.exit_code == 1
    assert f"{customer_no}\trefused\t保管期限未满（销户日 2026-06-30，保管至 2046-06-30）" in result.output
    assert _profile(app, customer_no)[0].name == "刘䶮"


def test_a_cutoff_after_today_is_refused(app, closed_customer):
    result = _purge(app, "--before", "2046-06-30")
    assert result.exit_code != 0 and "晚于今天" in result.output and "不能提前清除" in result.output
    assert _profile(app, closed_customer[0])[0].name == "刘䶮"


def test_a_customer_not_closed_is_refused(app, in_year):
    in_year(date(2099, 1, 1))
    result = _purge(app, "--before", "2099-01-01", "--customer", "C0101000001")
    assert result.exit_code == 1 and "C0101000001\trefused\t客户未销户，保管期限尚未开始计算" in result.output


def test_a_legal_hold_placed_by_an_archivist_keeps_a_due_file_until_lifted(app, closed_customer, in_year):
    customer_no, _, _ = closed_customer
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["archive", "hold", customer_no, "--by", "clerk", "--reason", "诉讼"])
    assert refused.exit_code != 0 and "只有总部管理员或档案管理员" in refused.output
    placed = runner.invoke(args=["archive", "hold", customer_no, "--by", "archivist",
                                 "--reason", "（2046）京01民初123号 诉讼保全"])
    assert placed.exit_code == 0, placed.output
    in_year(date(2047, 1, 1))

    kept = _purge(app, "--before", "2047-01-01")
    assert f"{customer_no}\trefused\t法律保全中：（2046）京01民初123号 诉讼保全" in kept.output
    assert _profile(app, customer_no)[0].name == "刘䶮"

    assert runner.invoke(args=["archive", "release", customer_no, "--by", "admin", "--reason", "案件审结"]).exit_code == 0
    assert "purged 1" in _purge(app, "--before", "2047-01-01").output
    with app.app_context():
        hold = db.session.scalar(select(LegalHold))
        assert hold.lifted_at is not None and hold.lift_reason == "案件审结"
        actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("retention.%"))
                                          .order_by(AuditEvent.id)))
    assert actions == ["retention.hold_placed", "retention.hold_lifted", "retention.purged"]


def test_the_retention_command_says_when_a_file_may_go(app, closed_customer):
    result = app.test_cli_runner().invoke(args=["archive", "retention", closed_customer[0]])
    assert result.exit_code == 0 and "due 2046-06-30" in result.output and "kept" in result.output


def test_a_file_shared_with_another_customer_stays_in_the_store(app, closed_customer, file_store, in_year):
    customer_no, _, scan_sha = closed_customer
    with app.app_context():
        other = db.session.scalar(select(Customer).where(Customer.customer_no == "C0101000001"))
        archivist = db.session.scalar(select(Staff).where(Staff.username == "archivist"))
        archive.add_scan(other, "id_front", png_bytes(30, 20), "same.png", archivist)
        db.session.commit()
    in_year(date(2046, 7, 1))
    assert "purged 1" in _purge(app, "--before", "2046-06-30").output
    assert file_store.exists(scan_sha)
    with app.app_context():
        assert files.read(scan_sha) == png_bytes(30, 20)
