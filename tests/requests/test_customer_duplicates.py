"""Possible duplicates: flagged on new profiles and over existing data, listed for branch managers and HQ."""
from datetime import date

from sqlalchemy import select

from blueprints.search.models import DuplicateFlag
from core.extensions import db
from core.models import AuditEvent
from tests import factories
from tests.requests.helpers import login_as, page_of
from tests.requests.test_customer_search import add_customer

BIRTH = date(1985, 2, 3)


def flags(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(f.reason, f.status) for f in db.session.scalars(select(DuplicateFlag).order_by(DuplicateFlag.id))]


def test_same_person_under_another_id_type_is_flagged_on_the_new_profile(app):
    with app.app_context():
        add_customer("C0101400001", "陈美玲", factories.make_id("110105", "19850203", "222"), birth_date=BIRTH)
        add_customer("C0101400002", "陳美玲", "H12345678", id_type="hmt_residence_permit", birth_date=BIRTH)
        add_customer("C0101400003", "陈美玲", "E98765432", id_type="passport", birth_date=date(1990, 1, 1))
        db.session.commit()
    assert flags(app) == [("other_document", "open")]


def test_one_mobile_on_several_customers_is_flagged(app):
    with app.app_context():
        add_customer("C0101400011", "李一", factories.make_id("110105", "19700101", "111"), mobile="13700000001")
        add_customer("C0101400012", "王二", factories.make_id("110105", "19710101", "111"), mobile="13700000001")
        db.session.commit()
    assert flags(app) == [("shared_mobile", "open")]


def test_find_duplicates_command_flags_existing_data_once(app):
    with app.app_context():
        add_customer("C0101400021", "李一", factories.make_id("110105", "19700101", "111"), mobile="13700000002")
        add_customer("C0101400022", "王二", factories.make_id("110105", "19710101", "111"), mobile="13700000002")
        db.session.execute(DuplicateFlag.__table__.delete())
        db.session.commit()
    runner = app.test_cli_runner()
    assert "flagged 1 new" in runner.invoke(args=["customers", "find-duplicates"]).output
    assert "flagged 0 new" in runner.invoke(args=["customers", "find-duplicates"]).output
    assert flags(app) == [("shared_mobile", "open")]


def test_manager_lists_and_reviews_a_flag_and_another_branch_does_not_see_it(app):
    with app.app_context():
        add_customer("C0101400031", "李一", factories.make_id("110105", "19700101", "111"), mobile="13700000003")
        add_customer("C0101400032", "王二", factories.make_id("110105", "19710101", "111"), mobile="13700000003")
        db.session.commit()
        flag_id = db.session.scalar(select(DuplicateFlag.id))
    manager = login_as(app, "manager")
    body = manager.get("/search/duplicates").get_data(as_text=True)
    assert "C0101400031" in body and "同一手机号" in body and "李一" not in body  # names masked for the manager
    refused = manager.post(f"/search/duplicates/{flag_id}", {"status": "distinct", "note": ""})
    assert refused.status_code == 422 and "请填写核查说明" in refused.get_data(as_text=True)
    assert manager.post(f"/search/duplicates/{flag_id}", {"status": "distinct", "note": "夫妻共用手机号"}).status_code == 303
    assert manager.post(f"/search/duplicates/{flag_id}", {"status": "same_person", "note": "重复提交"}).status_code == 303
    assert flags(app) == [("shared_mobile", "distinct")]
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.duplicates.review")) is not None
    assert "C0101400031" not in login_as(app, "admin").get("/search/duplicates").get_data(as_text=True)
    assert "C0101400031" in login_as(app, "admin").get("/search/duplicates?status=distinct").get_data(as_text=True)
    other = login_as(app, "admin")
    assert other.get("/search/duplicates").status_code == 200
    assert login_as(app, "clerk").get("/search/duplicates").status_code == 403


def test_another_branch_manager_cannot_review_the_pair(app):
    from tests.requests.helpers import add_staff

    add_staff(app, "manager_sh", "branch_manager", branch_code="0201", full_name="沈经理")
    with app.app_context():
        add_customer("C0101400041", "李一", factories.make_id("110105", "19700101", "111"), mobile="13700000004")
        add_customer("C0101400042", "王二", factories.make_id("110105", "19710101", "111"), mobile="13700000004")
        db.session.commit()
        flag_id = db.session.scalar(select(DuplicateFlag.id))
    auth = login_as(app, "manager_sh")
    assert "C0101400041" not in page_of(auth.get("/search/duplicates")).html
    assert auth.post(f"/search/duplicates/{flag_id}", {"status": "distinct", "note": "x"}).status_code == 404
