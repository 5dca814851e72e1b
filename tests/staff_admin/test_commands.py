"""The first HQ administrator comes from `flask staff create-admin`; the demo's logins only in demo modes."""
from blueprints.auth.services import verify_credentials
from tests.staff_admin.helpers import staff


def test_create_admin_reads_the_password_from_stdin_and_makes_an_hq_administrator(app):
    result = app.test_cli_runner().invoke(args=["staff", "create-admin", "chief", "--full-name", "周总",
                                                "--password-stdin"], input="Lq7#vR2m-Spring\n")
    assert result.exit_code == 0, result.output
    made = staff(app, "chief")
    assert made.role == "hq_admin" and made.branch.is_headquarters and not made.must_change_password
    with app.test_request_context():
        assert verify_credentials("chief", "Lq7#vR2m-Spring", purpose="test").staff is not None


def test_create_admin_refuses_a_weak_password_and_a_taken_username(app):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["staff", "create-admin", "chief", "--password-stdin"], input="password1\n")
    assert weak.exit_code != 0 and "该密码过于常见" in weak.output
    assert staff(app, "chief") is None
    taken = runner.invoke(args=["staff", "create-admin", "admin", "--password-stdin"], input="Lq7#vR2m-Spring\n")
    assert taken.exit_code != 0 and "已被使用" in taken.output


def test_create_admin_prompts_twice_when_no_stdin_flag_is_given(app):
    result = app.test_cli_runner().invoke(args=["staff", "create-admin", "chief2"],
                                          input="Lq7#vR2m-Spring\nLq7#vR2m-Spring\n")
    assert result.exit_code == 0, result.output
    assert staff(app, "chief2") is not None


def test_seed_demo_refuses_outside_the_demo_modes(app, monkeypatch):
    monkeypatch.setitem(app.config, "APP_MODE", "production")
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "create-admin" in result.output
