"""Keys: the app refuses to start without them outside the demo and tests; a rotation re-encrypts everything."""
import pytest
from sqlalchemy import Text, select, type_coerce

from app import ConfigurationError, create_app
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer, CustomerProfile
from core import keys
from core.extensions import db

DEMO_ID = "11010519491231002X"  # the demo customer's ID number


@pytest.fixture
def bare_env(monkeypatch):
    for name in ("SECRET_KEY", "DATA_KEY", "SECRET_KEY_FILE", "DATA_KEY_FILE", "INDEX_KEY", "DATA_KEY_PREVIOUS",
                 "APP_MODE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_production_refuses_to_start_without_keys_and_says_which(bare_env):
    with pytest.raises(ConfigurationError, match="without SECRET_KEY and DATA_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    bare_env.setenv("SECRET_KEY", "s" * 40)
    with pytest.raises(ConfigurationError) as refused:
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert "DATA_KEY" in str(refused.value) and "SECRET_KEY and" not in str(refused.value)


def test_keys_may_come_from_files_named_by_the_environment(bare_env, tmp_path):
    (tmp_path / "secret").write_text("from-a-file-secret\n")
    (tmp_path / "data").write_text("from-a-file-data\n")
    bare_env.setenv("SECRET_KEY_FILE", str(tmp_path / "secret"))
    bare_env.setenv("DATA_KEY_FILE", str(tmp_path / "data"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == "from-a-file-secret" and app.config["DATA_KEY"] == "from-a-file-data"
    bare_env.setenv("DATA_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="DATA_KEY_FILE=.*cannot be read"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_the_demo_makes_its_own_keys(bare_env, tmp_path):
    bare_env.setenv("APP_MODE", "demo")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert len(app.config["SECRET_KEY"]) > 40 and len(app.config["DATA_KEY"]) > 40


def test_a_previous_key_without_a_pinned_index_key_is_refused(bare_env):
    bare_env.setenv("SECRET_KEY", "s" * 40)
    bare_env.setenv("DATA_KEY", "new-key")
    bare_env.setenv("DATA_KEY_PREVIOUS", "old-key")
    with pytest.raises(ConfigurationError, match="INDEX_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def _app_on(app, **config):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                       "SECRET_KEY": "test-secret", **config})


def _raw_id_numbers():
    return db.session.scalars(select(type_coerce(CustomerProfile.id_number, Text))).all()


def test_rotation_re_encrypts_every_value_and_lookups_keep_working(app):
    with app.app_context():
        before = _raw_id_numbers()
        assert before
    rotating = _app_on(app, DATA_KEY="the-new-data-key", DATA_KEY_PREVIOUS="test-data-key", INDEX_KEY="test-data-key")
    with rotating.app_context():
        old = keys.count_old()
        assert old.get("customer_profile.id_number") == len(before)
        assert keys.rotate_columns() >= len(before)
        assert keys.count_old() == {}
        assert keys.rotate_columns() == 0  # a second run finds nothing left
        after = _raw_id_numbers()
        assert not set(after) & set(before)
    # Once rotated, the new key alone reads everything, and the ID-number lookup still finds the customer.
    rotated = _app_on(app, DATA_KEY="the-new-data-key", INDEX_KEY="test-data-key")
    with rotated.app_context():
        found = db.session.scalar(select(Customer).where(customer_services.with_id_number(DEMO_ID)))
        assert found is not None
        assert customer_services.profiles_of([found.id])[found.id].id_number == DEMO_ID
    with app.app_context(), pytest.raises(RuntimeError, match="cannot be decrypted"):
        db.session.scalars(select(CustomerProfile.id_number)).all()


def test_the_rotate_command_reports_and_status_confirms(app):
    rotating = _app_on(app, DATA_KEY="the-new-data-key", DATA_KEY_PREVIOUS="test-data-key", INDEX_KEY="test-data-key")
    runner = rotating.test_cli_runner()
    assert "customer_profile.id_number" in runner.invoke(args=["keys", "status"]).output
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0 and "re-encrypted" in result.output
    assert "every value and file is under the current DATA_KEY" in runner.invoke(args=["keys", "status"]).output
