"""Dictionaries HQ keeps: CRUD with audit, a disabled entry kept on old records but no longer offered."""
import pytest
from sqlalchemy import select

from blueprints.dictionaries.models import DictionaryEntry
from core.extensions import db
from core.models import AuditEvent
from tests import factories
from tests.reminders.support import customer_with
from tests.requests.helpers import login_as, page_of, staff_id


def entry_id(app, kind: str, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(DictionaryEntry.id).where(DictionaryEntry.kind == kind,
                                                                  DictionaryEntry.code == code))


def disable(admin, app, code: str, kind: str = "occupation"):
    with app.app_context():
        entry = db.session.get(DictionaryEntry, entry_id(app, kind, code))
        label, position = entry.label, entry.position
    return admin.post(f"/dictionaries/entry/{entry_id(app, kind, code)}",
                      {"label": label, "position": str(position), "csrf_token": admin.token})


@pytest.fixture
def admin(auth):
    assert auth.login("admin").status_code == 303
    return auth


def test_every_dictionary_starts_with_the_values_records_hold(app):
    from core import choices

    with app.app_context():
        codes = lambda kind: list(db.session.scalars(select(DictionaryEntry.code).where(DictionaryEntry.kind == kind)
                                                     .order_by(DictionaryEntry.position)))
        assert codes("occupation") == list(choices.OCCUPATIONS)
        assert codes("customer_type") == list(choices.CUSTOMER_TYPES)
        assert len(codes("region")) == 34 and len(codes("industry")) == 20


def test_migration_seed_matches_the_defaults(app):
    import importlib.util
    from pathlib import Path

    from blueprints.dictionaries import defaults

    def revision(pattern: str):
        path = next(Path("migrations/versions").glob(pattern))
        spec = importlib.util.spec_from_file_location(f"seed_revision_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    seeded = {k: dict(v) for k, v in revision("*_reminders_dictionaries_prospects_id_expiry.py").SEED.items()}
    seeded["complaint_category"] = dict(revision("*_complaint_category_dictionary.py").CATEGORIES)
    assert seeded == defaults.entries()


def test_admin_adds_an_entry_and_it_is_audited(app, admin):
    response = admin.post("/dictionaries/industry/new", {"code": "Z1", "label": "测试行业", "position": "5",
                                                         "enabled": "y"})
    assert response.status_code == 303
    page = admin.get("/dictionaries/industry").get_data(as_text=True)
    assert 'id="entry-Z1"' in page and "测试行业" in page
    assert page.index("entry-Z1") < page.index("entry-A")  # position 5 comes before 10
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "dictionary.create",
                                                          AuditEvent.object_id == "industry:Z1"))


@pytest.mark.parametrize("data, field, message", [
    ({"code": "student", "label": "学生2", "position": "1"}, "code", "已存在"),
    ({"code": "a b", "label": "x", "position": "1"}, "code", "字母、数字或下划线"),
    ({"code": "x1", "label": "", "position": "1"}, "label", "请填写中文名称"),
    ({"code": "x1", "label": "x", "position": "-3"}, "position", "排序为0–99999的整数"),
    ({"code": "x1", "label": "x", "position": "abc"}, "position", "排序"),
])
def test_bad_entries_are_refused_next_to_the_field(app, admin, data, field, message):
    response = admin.post("/dictionaries/occupation/new", data, htmx=True)
    assert response.status_code == 422
    page = page_of(response)
    assert any(message in m for m in page.errors_for(field)), page.all_errors()
    if data["label"]:
        assert data["label"] in response.get_data(as_text=True)  # nothing typed is lost


@pytest.mark.parametrize("username", ["clerk", "manager", "reviewer", "archivist"])
def test_only_hq_administrators_keep_dictionaries(app, username):
    client = login_as(app, username)
    assert client.get("/dictionaries/occupation").status_code == 403
    assert client.post(f"/dictionaries/entry/{entry_id(app, 'occupation', 'student')}", data={}).status_code in (400, 403)


def test_disabled_occupation_is_not_offered_and_not_accepted_in_the_opening(app, admin):
    assert disable(admin, app, "student").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(DictionaryEntry.enabled).where(DictionaryEntry.code == "student")) is False
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "dictionary.update"))
    auth = login_as(app, "clerk")
    reference = factories.start(auth, "dict-1")
    factories.walk_with(auth, reference, "contact", staff_id(app, "clerk"))
    page = auth.get(factories.step_url(reference, "contact")).get_data(as_text=True)
    assert 'value="student"' not in page and 'value="retired"' in page
    response = auth.post(factories.step_url(reference, "contact"), factories.contact(occupation="student"))
    assert response.status_code == 422
    assert "所选职业已停用或不存在，请重新选择" in page_of(response).errors_for("occupation")


def test_old_records_keep_the_disabled_label_and_the_change_form_keeps_it(app, admin):
    from blueprints.customers import services as customer_services
    from blueprints.customers.models import Customer

    number = customer_with(app, 1)
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == number))
        profile = customer.profile
        values = {name: getattr(profile, name) for name in ("name", "id_type", "id_number", "birth_date")}
        customer_services.add_profile_version(customer, {**values, "occupation": "student"}, source="import", actor=None)
        db.session.commit()
    disable(admin, app, "student")
    clerk = login_as(app, "clerk")
    assert "学生" in clerk.get(f"/customers/{number}").get_data(as_text=True).split('id="customer-profile"')[1][:1500]
    form = clerk.get(f"/changes/new/{number}/ordinary").get_data(as_text=True)
    assert "学生（已停用）" in form  # the record's value stays offered so an unrelated change can go ahead


def test_renaming_keeps_the_code_so_records_show_the_new_label(app, admin):
    number = entry_id(app, "occupation", "freelancer")
    response = admin.post(f"/dictionaries/entry/{number}", {"label": "自由职业", "position": "5", "enabled": "y"})
    assert response.status_code == 303
    with app.app_context():
        entry = db.session.get(DictionaryEntry, number)
        assert (entry.code, entry.label, entry.enabled) == ("freelancer", "自由职业", True)
