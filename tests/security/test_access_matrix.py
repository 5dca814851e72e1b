"""The access matrix is complete and committed, and a route without a roles declaration is refused."""
from app import create_app
from core.access_matrix import MATRIX_PATH, BranchRule, entries, problems, render
from core.roles import Role
from core.security import PUBLIC_ENDPOINTS, any_staff, roles_required
from tests.conftest import TEST_HASH_METHOD, Auth


def test_committed_matrix_is_the_one_the_url_map_gives(app):
    committed = MATRIX_PATH.read_text("utf-8") if MATRIX_PATH.exists() else ""
    assert committed == render(app), (
        "docs/access-matrix.md is out of date: run `flask --app app access-matrix`, "
        "review the new or changed rows and commit the file")


def test_every_endpoint_declares_roles_and_has_a_branch_rule(app):
    assert problems(app) == []


def test_every_endpoint_is_in_the_matrix_once_per_rule(app):
    text = MATRIX_PATH.read_text("utf-8")
    for entry in entries(app):
        assert f"| `{entry.path.replace('|', chr(92) + '|')}` | {' '.join(entry.methods)} | `{entry.endpoint}` |" in text
    assert len(entries(app)) == len(list(app.url_map.iter_rules())) > 100


def test_only_login_static_health_and_the_signed_reader_api_are_public(app):
    public = {entry.endpoint for entry in entries(app) if entry.branch_rule == BranchRule.PUBLIC}
    assert public == set(PUBLIC_ENDPOINTS) == {"auth.login", "static", "home.health", "reader.post_read"}


def test_logout_is_declared_for_every_staff_role(app):
    assert entries_by_endpoint(app)["auth.logout"].roles == frozenset(Role)


def entries_by_endpoint(app):
    return {entry.endpoint: entry for entry in entries(app)}


def _fresh_app(database_url, tmp_path):
    """A second app on the same database, so routes can still be added (Flask forbids it after a request)."""
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test-secret",
                       "DATA_KEY": "test-data-key", "PASSWORD_HASH_METHOD": TEST_HASH_METHOD,
                       "FILE_STORE": str(tmp_path / "files"), "JOBS_EAGER": True, "SCHEDULE_ENABLED": False})


def test_a_route_registered_without_roles_is_refused_to_every_role(app, database_url, tmp_path):
    fresh = _fresh_app(database_url, tmp_path)

    def undeclared():
        return "reached"

    @any_staff
    def declared():
        return "reached"

    fresh.add_url_rule("/undeclared", "undeclared", undeclared, methods=["GET", "POST"])
    fresh.add_url_rule("/declared", "declared", declared)
    for username in ("clerk", "manager", "admin"):
        auth = Auth(fresh.test_client())
        assert auth.login(username).status_code == 303
        assert auth.get("/declared").get_data(as_text=True) == "reached"
        assert auth.get("/undeclared").status_code == 403
        assert auth.post("/undeclared").status_code == 403


def test_an_undeclared_route_still_sends_an_anonymous_visitor_to_login(app, database_url, tmp_path):
    fresh = _fresh_app(database_url, tmp_path)
    fresh.add_url_rule("/undeclared", "undeclared", lambda: "reached")
    response = fresh.test_client().get("/undeclared")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_a_role_outside_the_declaration_is_refused(app, database_url, tmp_path):
    fresh = _fresh_app(database_url, tmp_path)
    fresh.add_url_rule("/archivists", "archivists", roles_required(Role.ARCHIVIST)(lambda: "reached"))
    auth = Auth(fresh.test_client())
    auth.login("clerk")
    assert auth.get("/archivists").status_code == 403
    auth = Auth(fresh.test_client())
    auth.login("archivist")
    assert auth.get("/archivists").get_data(as_text=True) == "reached"
