"""Every writing route, posted hostile form values as a user allowed to use it: never a 5xx, a refusal
changes nothing, a success leaves every record whole (ASVS 5.0 V2.2 input validation, V2.3 business logic,
V16.5 errors handled)."""
from dataclasses import dataclass, field
from typing import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from blueprints.opening.workflow import keys_for
from core.extensions import db
from core.roles import Role
from tests import factories
from tests.fuzz import harness
from tests.fuzz.harness import FUZZ_SETTINGS, KEPT_ON_ANY_REFUSAL, KEPT_ON_REFUSAL
from tests.fuzz.world import DEMO_CUSTOMER, MISSING, World
from tests.requests.helpers import staff_id

# Who uses each role's routes in the demo branch (blueprints/home/demo.py).
USER_OF_ROLE = {
    Role.CLERK: "clerk", Role.REVIEWER: "reviewer", Role.WITNESS: "witness", Role.MARKETING: "marketing",
    Role.RETURN_VISIT: "visitor", Role.ARCHIVIST: "archivist", Role.BRANCH_MANAGER: "manager",
    Role.HQ_ADMIN: "admin", Role.CUSTOMER_MANAGER: "cmanager", Role.BROKER: "broker",
}


@dataclass(frozen=True)
class Case:
    """One route to fuzz: who posts, what its URL names, where its form is shown."""

    endpoint: str
    args: Callable[[World], dict] = lambda w: {}
    user: str | None = None  # default: the demo user of the first allowed role in USER_OF_ROLE's order
    pages: tuple[str, ...] = ()  # pages (formatted with the URL's arguments) that hold the route's form
    fields: tuple[str, ...] = ()  # names to post when no page shows the form (a state the world lacks)
    label: str = ""
    before: Callable[[World], object] = lambda w: None
    # Valid values for a form the page shows blank, so that posts which pass its checks are among the examples.
    good: Callable[[World], dict] = lambda w: {}

    @property
    def id(self):
        return self.endpoint + (f"[{self.label}]" if self.label else "")


def _notification(world: World) -> int:
    from blueprints.grading.models import Notification

    with world.app.app_context():
        row = Notification(recipient_id=staff_id(world.app, "clerk"), topic="grade_change", text="客户分级已调整")
        db.session.add(row)
        db.session.commit()
        return row.id


def _held(world: World) -> None:
    """A standing legal hold on the world's customer, for the lift form to show."""
    from blueprints.auth.models import Staff
    from blueprints.customers.models import Customer
    from blueprints.retention import services as retention

    with world.app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == world.customer_no))
        retention.place_hold(customer, db.session.scalar(select(Staff).where(Staff.username == "archivist")), "诉讼保全")
        db.session.commit()


def _escalated(world: World) -> str:
    return world.approved  # awaiting its first call: the send-back is refused (not escalated)


GOOD_STEP_DATA = {"identity": lambda w: factories.identity(), "contact": lambda w: factories.contact(),
                  "agreements": lambda w: factories.agreements()}
OPENING_STEPS = [
    Case("opening.step", lambda w, k=key: {"reference": w.draft_at(k), "key": k}, label=key,
         good=GOOD_STEP_DATA.get(key, lambda w: {}))
    for key in keys_for("onsite")
]

CASES = [
    Case("auth.login", user="anonymous", pages=("/auth/login",)),
    Case("auth.logout", user="clerk", pages=("/",)),
    Case("home.health", user="anonymous") if False else None,
    Case("archive.index", pages=("/archive/",)),
    Case("archive.customer_file", lambda w: {"customer_no": w.customer_no}),
    Case("archive.generate_dossier", lambda w: {"customer_no": w.customer_no}, pages=("/archive/customers/{customer_no}",)),
    Case("archive.upload_scan", lambda w: {"customer_no": w.customer_no}, user="archivist"),
    Case("archive.exports"),
    Case("archive.place_hold", lambda w: {"customer_no": w.customer_no}, user="archivist",
         pages=("/archive/customers/{customer_no}",), fields=("hold-reason",)),
    Case("archive.lift_hold", lambda w: {"customer_no": w.customer_no}, user="archivist",
         pages=("/archive/customers/{customer_no}",), fields=("lift-reason",), before=_held),
    Case("changes.decide", lambda w: {"reference": w.change}, pages=("/changes/{reference}",)),
    Case("changes.upload_signed_slip", lambda w: {"reference": w.change}, pages=("/changes/{reference}",),
         fields=("signed_slip",)),
    Case("changes.retry_slip", lambda w: {"reference": w.change}, pages=("/changes/{reference}",)),
    Case("changes.withdraw", lambda w: {"reference": w.change}, pages=("/changes/{reference}",), fields=("reason",)),
    Case("changes.key", lambda w: {"customer_no": w.customer_no}),
    Case("changes.links", lambda w: {"customer_no": w.customer_no}),
    Case("changes.ordinary", lambda w: {"customer_no": w.customer_no}),
    Case("closure.resubmit", lambda w: {"reference": w.closure}, pages=("/closure/{reference}",)),
    Case("closure.review", lambda w: {"reference": w.closure}, pages=("/closure/{reference}",),
         fields=("reviewer_username", "reviewer_password", "decision", "reason")),
    Case("closure.withdraw", lambda w: {"reference": w.closure}, pages=("/closure/{reference}",), fields=("reason",)),
    Case("closure.reactivate", lambda w: {"customer_no": w.customer_no, "_f": w.fund_account}, pages=("/closure/{customer_no}",),
         fields=("fund_account={_f}", "client_token=fz-reactivate", "confirmed=y")),
    Case("closure.start", lambda w: {"customer_no": w.customer_no}, pages=("/closure/{customer_no}",)),
    Case("closure.reactivation_review", lambda w: {"reference": MISSING},
         fields=("reviewer_username", "reviewer_password", "decision", "reason")),
    Case("closure.reactivation_withdraw", lambda w: {"reference": MISSING}, fields=("reason",)),
    Case("customers.save_filter", user="clerk", pages=("/customers/",), fields=("name", "kind", "grade", "risk_class")),
    Case("customers.delete_filter", lambda w: {"filter_id": w.saved_filter}, user="clerk", pages=("/customers/",)),
    Case("dictionaries.create", lambda w: {"kind": "occupation"}, pages=("/dictionaries/{kind}",)),
    Case("dictionaries.create", lambda w: {"kind": "nonsense"}, label="unknown-kind", fields=("code", "label")),
    Case("dictionaries.edit", lambda w: {"entry_id": w.dictionary_entry}),
    Case("exceptions.cancel", lambda w: {"message_id": w.message_id}, user="manager", pages=("/exceptions/{message_id}",),
         fields=("reason",)),
    Case("exceptions.resend", lambda w: {"message_id": w.message_id}, user="manager", pages=("/exceptions/{message_id}",)),
    Case("exceptions.retry", lambda w: {"message_id": w.message_id}, user="manager", pages=("/exceptions/{message_id}",)),
    Case("grading.import_index", user="admin"),
    Case("grading.notification_read", lambda w: {"notification_id": _notification(w)}, user="clerk", pages=("/",)),
    Case("grading.recompute_all", pages=("/grading/rules", "/grading/imports")),
    Case("grading.recompute_customer", pages=("/customers/" + DEMO_CUSTOMER, "/grading/rules"), fields=("customer_no=C0101000001",)),
    Case("grading.rule_edit", lambda w: {"rule_id": w.grade_rule}, pages=("/grading/rules",)),
    Case("grading.rule_new", pages=("/grading/rules",)),
    Case("managers.assign", lambda w: {"customer_no": w.customer_no}, user="manager"),
    Case("managers.decide", lambda w: {"reference": w.handover}, user="manager", pages=("/managers/handovers/{reference}",)),
    Case("managers.withdraw", lambda w: {"reference": w.handover}, user="cmanager", pages=("/managers/handovers/{reference}",),
         fields=("note",)),
    Case("managers.new_handover", user="cmanager"),
    Case("merges.decide", lambda w: {"reference": w.merge}, pages=("/merges/{reference}",)),
    Case("merges.withdraw", lambda w: {"reference": w.merge}, user="manager", pages=("/merges/{reference}",), fields=("note",)),
    Case("merges.new", lambda w: {"flag_id": w.same_person_flag}, user="manager"),
    Case("opening.resupply", lambda w: {"reference": w.submitted}),
    *OPENING_STEPS,
    Case("opening.withdraw", lambda w: {"reference": w.draft_at("contact")}, pages=("/opening/{reference}/step/contact",),
         fields=("reason",)),
    Case("opening.new", pages=("/opening/new",)),
    Case("products.edit", lambda w: {"product_id": w.product}, pages=("/products/",)),
    Case("products.insist", lambda w: {"_c": w.customer_no, "_p": w.product}, pages=("/customers/{_c}",),
         fields=("customer_no={_c}", "product_id={_p}", "client_token=fz-insist", "acknowledgement")),
    Case("products.new", pages=("/products/",)),
    Case("products.recommend", lambda w: {"_c": w.customer_no, "_p": w.product}, pages=("/customers/{_c}",),
         fields=("customer_no={_c}", "product_id={_p}", "client_token=fz-recommend")),
    Case("prospects.edit", lambda w: {"customer_no": w.prospect}, user="clerk"),
    Case("prospects.new", user="clerk", good=lambda w: {
        "name": "刘晓明", "id_type": "resident_id", "id_number": factories.CUSTOMER_ID, "mobile": "13812348000",
        "source": "walk_in", "notes": "咨询两融业务"}),
    # Staff administration: HQ on a member of staff no case logs in as, the demo branch and its grants.
    Case("staff_admin.create", pages=("/staff-admin/new",), good=lambda w: {
        "username": "fuzznew", "full_name": "许新人", "role": "clerk", "branch_id": str(w.branch_id)}),
    Case("staff_admin.edit", lambda w: {"staff_id": w.staff_target}, pages=("/staff-admin/{staff_id}",)),
    Case("staff_admin.facts", lambda w: {"staff_id": w.staff_target}, pages=("/staff-admin/{staff_id}",)),
    Case("staff_admin.set_enabled", lambda w: {"staff_id": w.staff_target, "action": "disable"},
         pages=("/staff-admin/{staff_id}",)),
    Case("staff_admin.end_sessions", lambda w: {"staff_id": w.staff_target}, pages=("/staff-admin/{staff_id}",)),
    Case("staff_admin.reset_password", lambda w: {"staff_id": w.staff_target}, pages=("/staff-admin/{staff_id}",)),
    # Posted as a user whose own password it is; the current password is never among the examples.
    Case("staff_admin.change_password", user="clerk", pages=("/staff-admin/password",)),
    Case("staff_admin.create_branch", pages=("/staff-admin/branches",)),
    Case("staff_admin.edit_branch", lambda w: {"branch_id": w.branch_id}, pages=("/staff-admin/branches/{branch_id}",)),
    Case("staff_admin.delete_branch", lambda w: {"branch_id": w.branch_id},
         pages=("/staff-admin/branches/{branch_id}",)),
    Case("staff_admin.give_grant", lambda w: {"branch_id": w.branch_id}, pages=("/staff-admin/grants",)),
    Case("staff_admin.withdraw_grant", lambda w: {"grant_id": w.grant_id}, pages=("/staff-admin/grants",)),
    Case("staff_admin.review_grant", lambda w: {"grant_id": w.grant_id}, user="manager",
         pages=("/staff-admin/grants",)),
    Case("customers.reveal_value", lambda w: {"customer_no": w.customer_no, "field": "mobile"},
         pages=("/customers/{customer_no}",)),
    Case("reader.devices", pages=("/reader/devices",)),
    Case("reader.revoke", lambda w: {"device_id": w.reader.id}, pages=("/reader/devices",)),
    Case("reader.unpair_device", lambda w: {"device_id": w.reader.id}, pages=("/reader/devices",),
         before=lambda w: w.terminal_paired),
    Case("reader.terminal", user="clerk", before=lambda w: w.reader),
    Case("reader.unpair_terminal", user="clerk", pages=("/reader/terminal",), before=lambda w: w.terminal_paired),
    Case("return_visit.visit", lambda w: {"reference": w.approved}),
    Case("return_visit.reveal_mobile", lambda w: {"reference": w.approved}, pages=("/return-visits/{reference}",)),
    Case("return_visit.send_back", lambda w: {"reference": _escalated(w)}, fields=("reason",)),
    Case("review.approve", lambda w: {"reference": w.submitted}, pages=("/review/{reference}",)),
    Case("review.take", lambda w: {"reference": w.submitted}, pages=("/review/{reference}", "/review/")),
    Case("review.decide_document", lambda w: {"reference": w.submitted, "document_id": w.document_id},
         pages=("/review/{reference}",), fields=("decision", "reason")),
    Case("review.reject", lambda w: {"reference": w.submitted}, pages=("/review/{reference}",)),
    Case("review.release", lambda w: {"reference": w.claimed}, pages=("/review/{reference}",)),
    Case("review.same_terminal_decide", lambda w: {"reference": w.submitted}, user="clerk",
         pages=("/opening/{reference}/step/summary",),
         fields=("reviewer_username", "reviewer_password", "decision", "reason")),
    Case("search.review_duplicate", lambda w: {"flag_id": w.duplicate_flag}, user="manager",
         pages=("/search/duplicates",), fields=("status", "note")),
    Case("search.results", user="clerk", pages=("/",)),
    Case("search.suggest", user="clerk", pages=("/",), fields=("q",)),
    Case("service.assign", lambda w: {"reference": w.service_record, "_h": staff_id(w.app, "clerk")}, user="manager",
         pages=("/service/{reference}",), fields=("handler={_h}",)),
    Case("service.close", lambda w: {"reference": w.service_record}, user="clerk", pages=("/service/{reference}",)),
    Case("service.extend", lambda w: {"reference": w.service_record}, user="clerk", pages=("/service/{reference}",)),
    Case("service.upload", lambda w: {"reference": w.service_record}, user="clerk", pages=("/service/{reference}",)),
    Case("service.follow_up", lambda w: {"reference": w.service_record}, user="clerk", pages=("/service/{reference}",)),
    Case("service.reassign", lambda w: {"reference": w.service_record}, user="manager", pages=("/service/{reference}",)),
    Case("service.new", lambda w: {"customer_no": DEMO_CUSTOMER}, user="clerk", good=lambda w: {
        "kind": "complaint", "subject": "佣金收取有异议", "content": "客户称佣金高于约定。", "channel": "phone",
        "category": "brokerage", "urgency": "general", "received_on": factories.business_date()}),
]
CASES = [case for case in CASES if case is not None]

# The reader API has its own fuzzing, of JSON bodies and signatures (test_reader_api.py).
FUZZED_ELSEWHERE = {"reader.post_read"}


def test_every_writing_route_is_fuzzed(app):
    """A new POST/PUT/PATCH/DELETE route without a case here fails: nothing slips past the fuzzing."""
    routes = {rule.endpoint for rule in harness.writing_rules(app)}
    assert routes - FUZZED_ELSEWHERE == {case.endpoint for case in CASES}


def _user_for(app, case: Case) -> str | None:
    if case.user == "anonymous":
        return None
    if case.user:
        return case.user
    roles = harness.allowed_roles(app, case.endpoint)
    assert roles, f"{case.endpoint} has no roles_required"
    return next(USER_OF_ROLE[role] for role in USER_OF_ROLE if role in roles)


def _url(app, endpoint: str, args: dict) -> str:
    from flask import url_for

    with app.test_request_context():
        return url_for(endpoint, **{k: v for k, v in args.items() if not k.startswith("_")})


def _fields(app, client, case: Case, url: str, args: dict) -> tuple[dict, list[str]]:
    """The route's form fields from the pages that show it (the route's own page, its parents, the case's)."""
    rule = next(r for r in app.url_map.iter_rules(case.endpoint))
    pages = [url] if "GET" in rule.methods else []
    pages += [page.format(**args) for page in case.pages if page.format(**args) not in pages]
    parent = url.rstrip("/").rsplit("/", 1)[0]
    if parent and parent not in pages:
        pages.append(parent)
    found: dict = {}
    shown_on = []
    for page in pages:
        response = client.get(page)
        if response.status_code != 200:
            continue
        fields = harness.forms_posting_to(response.get_data(as_text=True), page.split("?")[0], url)
        if fields:
            shown_on.append(page)
            for name, f in fields.items():
                found.setdefault(name, f)
    for spec in case.fields:  # "name" or "name=value" (formatted with the URL's arguments)
        name, _, value = spec.partition("=")
        kind = "file" if name in ("signed_slip", "acknowledgement", "file") else "text"
        found.setdefault(name, harness.Field(name, kind, [value.format(**args)] if value else [],
                                             value.format(**args) if value else None))
    return found, shown_on


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    from core.storage import LocalStore

    store = LocalStore(str(tmp_path / "files"))
    monkeypatch.setitem(app.extensions, "file_store", store)
    return tmp_path / "files"


def _stored_files(root) -> set[str]:
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_no_form_input_gives_a_5xx_or_a_half_saved_record(app, file_store, case: Case):
    world = World(app)
    args = case.args(world)
    case.before(world)
    url = _url(app, case.endpoint, args)
    username = _user_for(app, case)
    if username is None:
        from tests.conftest import Auth

        auth = Auth(app.test_client())
        auth.token = harness_csrf(auth)
    else:
        auth = world.auth(username)
    fields, shown_on = _fields(app, auth.client, case, url, args)
    for name, value in case.good(world).items():
        if name in fields:
            fields[name].default = value
    kept = KEPT_ON_ANY_REFUSAL | KEPT_ON_REFUSAL.get(case.endpoint, frozenset())
    with app.app_context():
        assert harness.incomplete_records() == {}, "the world itself is inconsistent"
    statuses = []

    @FUZZ_SETTINGS
    @given(body=st.one_of(*[harness.form_data(fields)] * 6, harness.other_body()), htmx=st.booleans())
    def post_hostile_form(body, htmx):
        with app.app_context():
            before = harness.fingerprint(kept)
        files_before = _stored_files(file_store)
        if isinstance(body, tuple):  # not a form: raw bytes or JSON
            response = auth.post(url, data=body[0], htmx=htmx, content_type=body[1])
        else:
            response = auth.post(url, data=harness.as_multidict(body), htmx=htmx,
                                 content_type="multipart/form-data" if harness.has_files(body) else None)
        statuses.append(response.status_code)
        assert response.status_code < 500, (url, response.status_code, response.get_data(as_text=True)[:3000])
        with app.app_context():
            after = harness.fingerprint(kept)
            if response.status_code >= 400:
                assert harness.changed_tables(before, after) == [], (url, response.status_code)
                if case.endpoint not in harness.FILES_KEPT_ON_REFUSAL:
                    assert _stored_files(file_store) == files_before, ("a refused post left files", url)
            else:
                assert harness.incomplete_records() == {}, (url, response.status_code)

    post_hostile_form()
    print(f"{case.id}: {len(fields)} fields from {shown_on or 'the case'}; statuses {sorted(set(statuses))}")


def harness_csrf(auth) -> str:
    from tests.conftest import csrf_token_from

    return csrf_token_from(auth.client.get("/auth/login").get_data(as_text=True))
