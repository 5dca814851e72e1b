"""Every cell of the access matrix, requested: each route × each role, with objects of the user's own branch
and of another one (and, for customer managers and brokers, another's customers).

The database is built once for the module (tests/security/world.py). GETs only read; most empty posts are
refused by validation, and the few that act on an empty form (a review claim, a notice marked read, a saved
filter deleted, a reader revoked, logout, after which the user logs in again) change nothing another cell's
expectation rests on.
A role refusal is a 403 with the generic message (core.security.roles_required, the fail-closed hook);
a 403 naming a reason comes from the view itself, which the role did reach.
Routes whose object is one staff member's own (a saved filter, a notice, an export) are also requested by a
colleague of the owner's branch and role, who must not reach it, and by HQ, who reaches it where the view says so.
"""
from dataclasses import dataclass

import pytest
from sqlalchemy import inspect, select
from werkzeug.routing import Rule

from app import ERROR_PAGES
from blueprints.archive import services as archive_services
from blueprints.archive.models import ExportJob
from blueprints.auth.models import Staff
from blueprints.dictionaries import defaults as dictionary_defaults
from blueprints.grading.models import Notification
from blueprints.reminders import registry as reminders
from blueprints.search.models import SavedCustomerFilter
from blueprints.statistics import figures
from core.access_matrix import BranchRule, entries
from core.extensions import db
from core.roles import ROLES_SEEING_OWN_CUSTOMERS, Role
from tests.conftest import Auth, reset_database
from tests.security import world as worlds
from tests.security.world import COLLEAGUE_OF_ROLE, OTHER, OWN, USER_OF_ROLE

ROLE_REFUSAL = ERROR_PAGES[403][1]
# A 404 with the generic message: the object was not found in the user's scope. A 404 naming a reason
# ("该申请没有这份见证影像") comes after the object was found.
HIDDEN = ERROR_PAGES[404][1]
MISSING = 99999999  # an id no object has: where the world has no sample of a kind

# Routes whose sample object has no such file (no slip before approval, no certificate for an ordinary change,
# no recording of a visit entered by hand): their plain 404 says nothing about the user's scope, so the
# own-branch and HQ checks skip them. The cross-branch check still requests them.
NO_FILE_IN_SAMPLE = {"changes.certificate", "changes.signed_slip", "changes.slip", "return_visit.recording"}

# Routes whose URL can name no object of the world, each with the reason: requested with a placeholder id, they
# test roles only. Every other route's URL names a real object in both branches (see the first test).
UNSAMPLED: dict[str, str] = {}

# Who the object an own-object route's URL argument names belongs to, by (blueprint, argument): the owner's column.
OWNER_OF = {("customers", "filter_id"): SavedCustomerFilter.staff_id,
            ("grading", "notification_id"): Notification.recipient_id,
            ("archive", "job_id"): ExportJob.requested_by_id}

# Own-object routes where HQ reaches every staff member's object, as the view says, each with where it says so.
# On the others HQ, too, reaches only its own.
HQ_REACHES_EVERY = {
    "archive.export_status": "services.find_export: for the staff member who asked for it or for HQ",
    "archive.download_export": "services.find_export: for the staff member who asked for it or for HQ",
}

# Own-object routes whose URL can name no object a colleague of the owner could ask for, each with the reason.
# Every other one has, for each role it admits but HQ, a colleague and an object of the demo user's (see
# test_every_own_object_route_has_a_colleague_and_an_object_of_the_owners).
NO_COLLEAGUE_SAMPLE: dict[str, str] = {}

# Known gaps, one reason each: the cell is expected to fail until the gap is closed.
KNOWN_GAPS: dict[tuple[str, str, str], str] = {}


@pytest.fixture(autouse=True)
def clean_db():
    """The module's state is built once (below), not wiped before each test."""
    yield


@pytest.fixture(scope="module")
def world(app, demo_hash, tmp_path_factory):
    reset_database(app, demo_hash)
    return worlds.build(app)


@pytest.fixture(scope="module")
def users(app, world):
    """A logged-in browser per role."""
    return {role: _login(app, username) for role, username in USER_OF_ROLE.items()}


def _login(app, username: str) -> Auth:
    auth = Auth(app.test_client())
    assert auth.login(username).status_code == 303, username
    return auth


@pytest.fixture(scope="module")
def colleagues(app, world):
    """A logged-in browser per role but HQ's, as the demo user's colleague of the same branch and role."""
    return {role: _login(app, username) for role, username in COLLEAGUE_OF_ROLE.items()}


@dataclass
class Cell:
    endpoint: str
    method: str
    url: str
    role: Role
    status: int
    role_refused: bool
    hidden: bool = False
    error: str = ""

    def __str__(self):
        return f"{self.method} {self.url} ({self.endpoint}) as {self.role}: {self.status} {self.error}".rstrip()


def _key_for(endpoint: str) -> str:
    if endpoint == "home.queue":
        return "in_review"
    if endpoint == "reminders.listing":
        return reminders.sources()[0].key
    if endpoint == "statistics.export_figure":
        return next(iter(figures._REGISTRY))
    if endpoint == "opening.step":
        return "identity"
    raise KeyError(endpoint)


# Which sample each URL argument takes, by blueprint (the same name means different objects in each).
REFERENCE_OF = {"opening": "draft", "review": "submitted", "return_visit": "visiting", "changes": "change",
                "closure": "closure", "managers": "handover", "merges": "merge", "service": "service"}
REFERENCE_OF_ENDPOINT = {"review.accounts_progress": "active_application", "opening.detail": "submitted",
                         "opening.submitted": "submitted", "return_visit.recording": "active_application",
                         "closure.reactivation": "reactivation", "closure.reactivation_review": "reactivation",
                         "closure.reactivation_withdraw": "reactivation", "opening.step_file": "file_application",
                         "service.download": "complaint"}
ID_OF = {"scan_id": "scan", "dossier_id": "dossier", "message_id": "message", "visit_id": "visit",
         "document_id": "document", "file_id": "service_file", "flag_id": "flag", "filter_id": "filter",
         "notification_id": "notification", "entry_id": "entry", "product_id": "product", "rule_id": "rule",
         "device_id": "device", "staff_id": "staff", "branch_id": "branch", "grant_id": "grant"}


def _argument(endpoint: str, rule: Rule, name: str, values: dict):
    blueprint = endpoint.split(".")[0]
    if name == "customer_no":
        if blueprint == "prospects":
            return values["prospect"]
        customers_rule = rule.endpoint and entries_by_endpoint[endpoint].branch_rule == BranchRule.CUSTOMERS
        return values["customer"] if customers_rule else values["active_customer"]
    if name == "merged_no":
        return values.get("merged", "C0000000000")
    if name == "reference":
        key = REFERENCE_OF_ENDPOINT.get(endpoint) or REFERENCE_OF[blueprint]
        return values.get(key, "XH20260101000000" if blueprint == "closure" else "NONE0000000000")
    if name == "key":
        return _key_for(endpoint)
    if name == "action":
        return "disable"
    if name == "field":
        return "mobile"
    if name == "kind":
        return "photo" if blueprint == "review" else next(iter(dictionary_defaults.KINDS))
    if name == "sha256":
        return values.get("sha256", "0" * 64)
    if name == "job_id":
        return values.get({"archive": "export", "grading": "import"}.get(blueprint, "job"), MISSING)
    if name == "entry_id":
        return values.get("dictionary_entry" if blueprint == "dictionaries" else "recommendation", MISSING)
    return values.get(ID_OF[name], MISSING)


entries_by_endpoint: dict = {}


PLACEHOLDERS = {MISSING, "C0000000000", "XH20260101000000", "NONE0000000000", "0" * 64}


def _url(app, entry, values: dict) -> str:
    return _url_and_sampled(app, entry, values)[0]


def _url_and_sampled(app, entry, values: dict) -> tuple[str, bool]:
    """The URL with the sample objects, and whether every argument names a real one."""
    rule, arguments = _arguments(app, entry, values)
    sampled = not PLACEHOLDERS & set(arguments.values())
    return rule.build(arguments, append_unknown=False)[1], sampled


def _arguments(app, entry, values: dict) -> tuple[Rule, dict]:
    """The entry's URL rule and the value of each of its arguments from the sample objects."""
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == entry.endpoint and r.rule == entry.path)
    return rule, {name: _argument(entry.endpoint, rule, name, values) for name in rule.arguments}


def _request(auth: Auth, method: str, url: str):
    return auth.get(url) if method == "GET" else auth.post(url)


def _cell(users, app, entry, method, role, values, usernames=USER_OF_ROLE) -> Cell:
    url = _url(app, entry, values)
    try:
        response = _request(users[role], method, url)
    except Exception as error:  # the test app propagates a view's exception: a 500 in production
        return Cell(entry.endpoint, method, url, role, 500, False, repr(error)[:200])
    if response.status_code in (302, 303) and "/auth/login" in response.headers.get("Location", ""):
        users[role] = _login(app, usernames[role])  # logout (or a refused session) ended it: log in again
        if entry.endpoint != "auth.logout":
            raise AssertionError(f"{method} {url} as {role} ended the session")
    body = response.get_data(as_text=True) if response.status_code in (403, 404) else ""
    return Cell(entry.endpoint, method, url, role, response.status_code, response.status_code == 403 and ROLE_REFUSAL in body,
                hidden=response.status_code == 404 and HIDDEN in body)


def _staff_entries(app):
    if not entries_by_endpoint:
        entries_by_endpoint.update({entry.endpoint: entry for entry in entries(app)})
    return [entry for entry in entries(app) if not entry.public and entry.endpoint != "static"]


def _report(failures: list[str], what: str):
    unexpected = [f for f in failures if not any(f.startswith(f"{m} ") and f"({e})" in f and f" as {r}:" in f
                                                 for (e, m, r) in KNOWN_GAPS)]
    assert not unexpected, f"{len(unexpected)} {what}:\n" + "\n".join(unexpected)


def test_every_url_names_a_sample_object_in_both_branches(app, world):
    """A placeholder id turns a route's object-level checks off without a word: each one left is named here."""
    placeholders = []
    for entry in _staff_entries(app):
        if "<" not in entry.path or entry.endpoint in UNSAMPLED:
            continue
        for branch in (OWN, OTHER):
            for role in Role:
                url, sampled = _url_and_sampled(app, entry, worlds.sample_values(world, branch, role))
                if not sampled:
                    placeholders.append(f"{url} ({entry.endpoint}) as {role} in {branch}")
    assert not placeholders, f"{len(placeholders)} URLs name no sample object:\n" + "\n".join(placeholders)


def test_every_role_reaches_exactly_the_routes_the_matrix_gives_it(app, world, users):
    failures = []
    for entry in _staff_entries(app):
        for method in entry.methods:
            for role in Role:
                values = worlds.sample_values(world, OWN, role)
                cell = _cell(users, app, entry, method, role, values)
                allowed = role in entry.roles
                if cell.status >= 500:
                    failures.append(f"{cell}: server error")
                elif allowed and cell.role_refused:
                    failures.append(f"{cell}: refused to a role the matrix allows")
                elif allowed and cell.hidden and method == "GET" and "<" in entry.path \
                        and entry.endpoint not in NO_FILE_IN_SAMPLE \
                        and _url_and_sampled(app, entry, values)[1]:
                    failures.append(f"{cell}: the own branch's object is hidden from a role the matrix allows")
                elif not allowed and not cell.role_refused:
                    failures.append(f"{cell}: reached by a role the matrix refuses")
    _report(failures, "cells disagree with the matrix")


def _branch_scoped_with_objects(app, world):
    """Entries whose URL names an object of a branch (its arguments differ between the two branches)."""
    for entry in _staff_entries(app):
        if entry.branch_rule not in (BranchRule.BRANCH, BranchRule.CUSTOMERS, BranchRule.OWN):
            continue
        own = _url(app, entry, worlds.sample_values(world, OWN, Role.CLERK))
        other, sampled = _url_and_sampled(app, entry, worlds.sample_values(world, OTHER, Role.CLERK))
        if own != other and sampled:
            yield entry


def test_objects_of_another_branch_are_hidden_from_every_role_but_hq(app, world, users):
    _report(_cross_branch_failures(app, world, users), "cross-branch cells leak or hide")


def test_the_cross_branch_check_finds_a_view_that_drops_its_branch_scope(app, world, users, monkeypatch):
    from blueprints.opening import services as opening_services
    from blueprints.opening.models import Application
    from sqlalchemy import select

    monkeypatch.setattr(opening_services, "visible_applications", lambda user: select(Application))
    failures = _cross_branch_failures(app, world, users, only={"opening.detail"})
    assert failures and all("another branch's object reached" in failure for failure in failures), failures


def _cross_branch_failures(app, world, users, only: set[str] | None = None) -> list[str]:
    failures = []
    for entry in _branch_scoped_with_objects(app, world):
        if only is not None and entry.endpoint not in only:
            continue
        for method in entry.methods:
            for role in sorted(entry.roles):
                cell = _cell(users, app, entry, method, role, worlds.sample_values(world, OTHER, role))
                if cell.status >= 500:
                    failures.append(f"{cell}: server error")
                elif role == Role.HQ_ADMIN and entry.branch_rule != BranchRule.OWN \
                        and entry.endpoint not in NO_FILE_IN_SAMPLE:
                    if cell.hidden or cell.role_refused:
                        failures.append(f"{cell}: HQ does not see another branch's object")
                elif role != Role.HQ_ADMIN and not (cell.status == 403 or cell.hidden):
                    failures.append(f"{cell}: another branch's object reached")
    return failures


def test_customer_managers_and_brokers_reach_only_their_own_customers(app, world, users):
    failures = []
    swapped = {Role.CUSTOMER_MANAGER: worlds.sample_values(world, OWN, Role.BROKER),
               Role.BROKER: worlds.sample_values(world, OWN, Role.CUSTOMER_MANAGER)}
    for entry in _staff_entries(app):
        if entry.branch_rule != BranchRule.CUSTOMERS:
            continue
        for method in entry.methods:
            for role in sorted(entry.roles & ROLES_SEEING_OWN_CUSTOMERS):
                own = _url(app, entry, worlds.sample_values(world, OWN, role))
                if _url(app, entry, swapped[role]) == own:
                    continue  # the URL names no customer or customer's record
                cell = _cell(users, app, entry, method, role, swapped[role])
                if cell.status >= 500:
                    failures.append(f"{cell}: server error")
                elif not (cell.status == 403 or cell.hidden):
                    failures.append(f"{cell}: another manager's customer reached")
    _report(failures, "own-customer cells leak")


def _own_object_entries(app):
    """Own-object routes whose URL names the object."""
    return [entry for entry in _staff_entries(app) if entry.branch_rule == BranchRule.OWN and "<" in entry.path]


def _owned(app, entry, values: dict) -> list[tuple]:
    """(owner column, id) for each URL argument of an own-object route; (None, name) where no owner is known."""
    rule, arguments = _arguments(app, entry, values)
    blueprint = entry.endpoint.split(".")[0]
    return [(OWNER_OF[(blueprint, name)], value) if (blueprint, name) in OWNER_OF else (None, name)
            for name, value in arguments.items()]


def _state(app, entry, values: dict) -> list[dict | None]:
    """Every column of each object the URL names (None: no such row), to tell whether a request changed it."""
    rows = []
    with app.app_context():
        for column, object_id in _owned(app, entry, values):
            row = db.session.get(column.class_, object_id) if column is not None else None
            rows.append(None if row is None else {a.key: getattr(row, a.key) for a in inspect(row).mapper.column_attrs})
    return rows


def test_every_own_object_route_has_a_colleague_and_an_object_of_the_owners(app, world):
    """Without a colleague and an object of the owner's, the check below would pass a route without requesting it:
    each own-object route, for each role it admits but HQ, has both (or its reason in NO_COLLEAGUE_SAMPLE)."""
    missing = []
    with app.app_context():
        for entry in _own_object_entries(app):
            if entry.endpoint in NO_COLLEAGUE_SAMPLE:
                continue
            for role in sorted(entry.roles - {Role.HQ_ADMIN}):
                where = f"{entry.endpoint} as {role}"
                colleague = db.session.scalar(select(Staff).where(Staff.username == COLLEAGUE_OF_ROLE.get(role, "")))
                if colleague is None or colleague.username == USER_OF_ROLE[role] or colleague.role != role \
                        or colleague.branch.code != OWN or colleague.sees_all_branches:
                    missing.append(f"{where}: no colleague of the same branch ({OWN}) and role (COLLEAGUE_OF_ROLE)")
                    continue
                values = worlds.colleague_values(world, role)
                url, sampled = _url_and_sampled(app, entry, values)
                if not sampled:
                    missing.append(f"{url} ({where}): names no sample object")
                    continue
                owner = db.session.scalar(select(Staff.id).where(Staff.username == USER_OF_ROLE[role]))
                for column, object_id in _owned(app, entry, values):
                    if column is None:  # object_id is the argument's name
                        missing.append(f"{url} ({where}): no owner known for its argument {object_id} (OWNER_OF)")
                    elif db.session.scalar(select(column).where(column.class_.id == object_id)) != owner:
                        missing.append(f"{url} ({where}): the object is not {USER_OF_ROLE[role]}'s own")
    assert not missing, f"{len(missing)} own-object routes go unchecked:\n" + "\n".join(missing)


def test_a_colleague_of_the_same_branch_and_role_does_not_reach_anothers_own_object(app, world, users, colleagues):
    _report(_colleague_failures(app, world, users, colleagues), "own-object cells leak or hide")


def test_the_colleague_check_finds_a_view_that_drops_its_owner_scope(app, world, users, colleagues, monkeypatch):
    monkeypatch.setattr(archive_services, "find_export", lambda user, job_id: db.session.get(ExportJob, job_id))
    failures = _colleague_failures(app, world, users, colleagues, only={"archive.export_status"})
    assert failures and all("another staff member's own object reached" in failure for failure in failures), failures


def _colleague_failures(app, world, users, colleagues, only: set[str] | None = None) -> list[str]:
    """The owner's colleague (same branch, same role) requests each own object of theirs; so does HQ."""
    failures = []
    for entry in _own_object_entries(app):
        if entry.endpoint in NO_COLLEAGUE_SAMPLE or (only is not None and entry.endpoint not in only):
            continue
        for method in entry.methods:
            for role in sorted(entry.roles - {Role.HQ_ADMIN}):
                values = worlds.colleague_values(world, role)
                whose = f"{USER_OF_ROLE[role]}'s object"
                before = _state(app, entry, values)
                if None in before:  # a 404 for it would say nothing
                    failures.append(f"{_url(app, entry, values)} ({entry.endpoint}): {whose} is gone before the check")
                    continue
                cell = _cell(colleagues, app, entry, method, role, values, usernames=COLLEAGUE_OF_ROLE)
                if cell.status >= 500:
                    failures.append(f"{cell} ({whose}): server error")
                elif not (cell.status == 403 or cell.hidden):
                    failures.append(f"{cell} ({whose}): another staff member's own object reached")
                elif _state(app, entry, values) != before:
                    failures.append(f"{cell} ({whose}): another staff member's own object changed")
                before = _state(app, entry, values)
                hq = _cell(users, app, entry, method, Role.HQ_ADMIN, values)
                if hq.status >= 500:
                    failures.append(f"{hq} ({whose}): server error")
                elif entry.endpoint in HQ_REACHES_EVERY:
                    if not 200 <= hq.status < 400:
                        failures.append(f"{hq} ({whose}): HQ does not reach the object the view gives it")
                elif not (hq.status == 403 or hq.hidden):
                    failures.append(f"{hq} ({whose}): HQ reached a staff member's own object the view keeps to them")
                elif _state(app, entry, values) != before:
                    failures.append(f"{hq} ({whose}): HQ changed a staff member's own object")
    return failures
