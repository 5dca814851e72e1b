"""Denied access, reads of customer data and the reader API's refusals all reach the audit trail, boundedly."""
import json
import time

import pytest
from sqlalchemy import func, select

from blueprints.home.demo import DEMO_USERS
from blueprints.reader import services as reader_services
from core import audit
from core.extensions import db
from core.models import AuditEvent
from tests.conftest import Auth

CUSTOMER = "C0101000001"  # the demo customer, of the Beijing branch


def _events(app, action, **where):
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return [(e.actor_name, e.object_type, e.object_id, e.detail, e.at) for e in db.session.scalars(query)]


def _count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def _login(app, username):
    user = Auth(app.test_client())
    assert user.login(username).status_code == 303
    return user


def test_another_branchs_customer_refused_is_recorded_although_the_request_rolls_back(app):
    shanghai = _login(app, "clerk_sh")

    response = shanghai.get(f"/customers/{CUSTOMER}")

    assert response.status_code in (403, 404)
    [(actor, object_type, object_id, detail, at)] = _events(app, "access.denied")
    assert (actor, object_type, object_id) == ("clerk_sh", "customer", CUSTOMER)
    assert detail == {"endpoint": "customers.detail", "method": "GET", "status": response.status_code}
    assert at is not None


def test_every_one_of_many_cross_branch_attempts_leaves_a_row(app):
    shanghai = _login(app, "clerk_sh")

    statuses = {shanghai.get(f"/customers/{CUSTOMER}").status_code for _ in range(71)}

    assert statuses <= {403, 404}
    assert len(_events(app, "access.denied", actor_name="clerk_sh")) == 71
    assert app.test_cli_runner().invoke(args=["audit-verify"]).exit_code == 0


def test_a_role_refused_is_recorded_with_endpoint_and_status(app):
    clerk = _login(app, "clerk")

    assert clerk.get("/reader/devices").status_code == 403

    [(actor, _, _, detail, _)] = _events(app, "access.denied")
    assert actor == "clerk" and detail["endpoint"] == "reader.devices" and detail["status"] == 403


def test_a_post_without_csrf_token_is_recorded_as_denied(app):
    clerk = _login(app, "clerk")

    response = clerk.client.post("/opening/new", data={"channel": "onsite", "customer_type": "individual"})

    assert response.status_code == 400
    [(actor, _, _, detail, _)] = _events(app, "access.denied")
    assert actor == "clerk" and detail == {"endpoint": "opening.new", "method": "POST", "status": 400}


def test_anonymous_attempts_are_audited_only_up_to_a_bound(app, client):
    per_source, _ = audit.ANONYMOUS_DENIALS_AUDITED

    answers = {client.get("/customers/").status_code for _ in range(per_source + 15)}

    assert answers == {302}
    rows = _events(app, "access.denied", actor_name="-anonymous-")
    assert len(rows) == per_source
    assert rows[0][3]["endpoint"] == "customers.index"


def test_logging_out_and_the_home_page_are_not_denials(app, client):
    client.get("/")
    assert _login(app, "clerk").post("/auth/logout").status_code in (302, 303)
    assert _events(app, "access.denied") == []


def test_searching_the_archive_by_name_records_the_field_never_the_value(app):
    archivist = _login(app, "archivist")
    archivist.get("/archive/")

    # The name is posted and kept on the server; the results page it leads to runs the search.
    response = archivist.post("/archive/", {"name": "张建国"}, follow_redirects=True)

    assert response.status_code == 200 and "张建国" not in response.request.url
    [(actor, _, _, detail, _)] = _events(app, "archive.search")
    assert actor == "archivist" and detail["key_type"] == "name" and detail["fields"] == ["name"]
    assert "张建国" not in json.dumps(detail, ensure_ascii=False)


def test_reading_the_lending_register_is_recorded(app):
    manager = _login(app, "manager")

    assert manager.get("/archive/register").status_code == 200

    [(actor, object_type, _, detail, _)] = _events(app, "archive.register_view")
    assert actor == "manager" and object_type == "lending_record" and "shown" in detail


def _user_for(roles):
    return next((username for username, _, role, _ in DEMO_USERS if role in roles), None)


def test_every_get_page_a_staff_member_opens_adds_an_audit_row(app):
    """Each GET route without arguments, opened by a demo user whose role may: at least one new row."""
    checked, unaudited = [], []
    logged_in = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "allowed_roles", None)
        if "GET" not in rule.methods or rule.arguments or rule.endpoint in audit.UNAUDITED_READS or not roles:
            continue
        username = _user_for(roles)
        user = logged_in.get(username) or logged_in.setdefault(username, _login(app, username))
        before = _count(app)
        response = user.get(rule.rule)
        if response.status_code != 200:
            continue
        checked.append(rule.endpoint)
        if _count(app) == before:
            unaudited.append(rule.endpoint)
    assert len(checked) > 20
    assert unaudited == []


def test_a_page_without_its_own_record_is_audited_as_a_read(app):
    admin = _login(app, "admin")

    assert admin.get("/reader/devices").status_code == 200

    [(actor, _, _, detail, _)] = _events(app, "page.read")
    assert actor == "admin" and detail == {"endpoint": "reader.devices"}


def test_the_same_terminal_panel_is_audited(app):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint == "review.same_terminal"]
    assert rules and "GET" in rules[0].methods
    # Its view records the application it shows (not a generic page read).
    import inspect

    assert "audit.record" in inspect.getsource(inspect.unwrap(app.view_functions["review.same_terminal"]))


def _bad_post(client):
    body = json.dumps({"fields": {}}).encode()
    return client.post("/api/reader/reads", data=body, content_type="application/json", headers={
        "X-Reader-Device": "RD-NOSUCH", "X-Reader-Timestamp": str(int(time.time())), "X-Reader-Signature": "0" * 64})


def test_a_flood_of_unsigned_reader_posts_is_answered_429_before_it_fills_the_trail(app, client):
    limit = app.config["READER_REFUSALS_PER_MINUTE"]

    statuses = [_bad_post(client).status_code for _ in range(limit + 30)]

    assert statuses[:limit] == [401] * limit
    assert set(statuses[limit:]) == {429}
    assert len(_events(app, "reader.refused")) == limit
    assert len(_events(app, "reader.rate_limited")) == 1


def test_another_source_is_still_heard_when_one_is_limited(app, client):
    limit = app.config["READER_REFUSALS_PER_MINUTE"]
    for _ in range(limit):
        _bad_post(client)
    limited = _bad_post(client)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert "一分钟后再试" in limited.get_json()["message"]

    other = app.test_client()
    body = json.dumps({"fields": {}}).encode()
    response = other.post("/api/reader/reads", data=body, content_type="application/json",
                          environ_base={"REMOTE_ADDR": "10.0.0.9"},
                          headers={"X-Reader-Device": "RD-NOSUCH", "X-Reader-Timestamp": str(int(time.time())),
                                   "X-Reader-Signature": "0" * 64})
    assert response.status_code == 401


@pytest.mark.parametrize("address", ["127.0.0.1", None])
def test_source_keys_do_not_carry_the_address(app, address):
    from core import ratelimit

    with app.app_context():
        key = ratelimit.source_key(address)
    assert len(key) == 64 and (address or "-") not in key
    assert reader_services.REFUSAL_WINDOW.total_seconds() == 60


def test_staff_reading_and_refused_at_once_leave_one_unbroken_chain(app):
    from tests.concurrency.test_concurrent_requests import _race

    users = [_login(app, name) for name in ("clerk", "clerk_sh", "manager", "archivist", "admin", "reviewer")]
    calls = []
    for user in users:
        calls += [lambda u=user: u.get(f"/customers/{CUSTOMER}"), lambda u=user: u.get("/reader/devices"),
                  lambda u=user: u.get("/archive/register")]

    responses = _race(calls)

    assert all(r.status_code in (200, 403, 404) for r in responses)
    with app.app_context():
        seqs = db.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) >= len(calls)
    result = app.test_cli_runner().invoke(args=["audit-verify"])
    assert result.exit_code == 0, result.output
