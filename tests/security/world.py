"""One database state for the access-matrix cells: the same kinds of objects in two branches.

Branch 0101 holds the demo users (one per role); branch 0201 gets its own clerk, reviewer, return-visit
agent, customer manager, broker and branch manager so that its objects are made the way 0101's are. Each
branch's objects are reached by name (`World.values[branch][name]`). Customer managers and brokers each have
a customer of their own, with a service record, a complaint, a handover and a record merged into it. Where a
view shows an object only to the staff member who made it (a complaint, an image saved in the wizard, a saved
filter, a notice), each demo user of 0101 has one of their own (`by_role`). Each demo user of 0101 but HQ's
also has a colleague of the same branch and role (`COLLEAGUE_OF_ROLE`), and own objects no cell acts on
(`World.kept`) for that colleague to ask for (`colleague_values`).
"""
import io
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from blueprints.archive import services as archive
from blueprints.auth.models import Branch, Staff
from blueprints.customers.models import Customer
from blueprints.managers import services as managers
from blueprints.managers.rules import HandoverKind
from blueprints.opening.models import Application
from blueprints.return_visit import services as return_visit
from blueprints.review import services as review
from blueprints.service import services as service
from blueprints.service.rules import ServiceKind
from core import outbox
from core.extensions import db
from core.timeutil import business_today
from blueprints.accounts.models import FundAccount
from blueprints.dictionaries.models import DictionaryEntry
from blueprints.grading.models import Notification
from blueprints.search.models import DuplicateFlag, SavedCustomerFilter
from blueprints.opening.models import ApplicationDocument
from blueprints.products.models import Recommendation
from blueprints.return_visit.models import ReturnVisit
from core.jobs import Job
from core.roles import Role
from core.outbox import OutboxMessage
from tests import factories
from tests.closure import support as closure_support
from tests.grading.support import HOLDING_HEADER, csv_bytes, job_id_of, upload
from tests.merges.test_merge import propose
from tests.reader.support import pair_reader
from tests.requests.helpers import add_staff
from tests.requests.test_archive_export import export_form
from tests.requests.test_customer_search import add_customer
from tests.requests.test_review import submit_witness
from tests.conftest import Auth

OWN, OTHER = "0101", "0201"

# The staff who make each branch's objects:
# (clerk, reviewer, return-visit agent, archivist, customer manager, broker, branch manager).
MAKERS = {
    OWN: ("clerk", "reviewer", "visitor", "archivist", "cmanager", "broker", "manager"),
    OTHER: ("clerk_sh", "reviewer_sh", "visitor_sh", "archivist_sh", "cmanager_sh", "broker_sh", "manager_sh"),
}
# The one demo user per role the cells are requested as (blueprints/home/demo.py).
USER_OF_ROLE = {Role.CLERK: "clerk", Role.REVIEWER: "reviewer", Role.WITNESS: "witness", Role.MARKETING: "marketing",
                Role.RETURN_VISIT: "visitor", Role.ARCHIVIST: "archivist", Role.BRANCH_MANAGER: "manager",
                Role.HQ_ADMIN: "admin", Role.CUSTOMER_MANAGER: "cmanager", Role.BROKER: "broker"}
# A colleague of each of them but HQ's: the same branch (0101) and role. The demo data has a second witness and
# a second customer manager; the others are added.
COLLEAGUE_OF_ROLE = {role: {"witness": "witness2", "cmanager": "cmanager2"}.get(username, f"{username}2")
                     for role, username in USER_OF_ROLE.items() if role != Role.HQ_ADMIN}
EXTRA_STAFF = (("reviewer_sh", "reviewer"), ("visitor_sh", "return_visit"), ("archivist_sh", "archivist"),
               ("cmanager_sh", "customer_manager"), ("cmanager2_sh", "customer_manager"), ("broker_sh", "broker"),
               ("manager_sh", "branch_manager"))
# What a broker works on instead of the customer manager's objects: their own customer's.
BROKER_SAMPLES = {"customer": "broker_customer", "service": "broker_service", "complaint": "broker_complaint",
                  "service_file": "broker_service_file", "merged": "broker_merged", "handover": "broker_handover"}
RESIDENCE_PERMIT = "hmt_residence_permit"


@dataclass
class World:
    values: dict[str, dict[str, object]] = field(default_factory=lambda: {OWN: {}, OTHER: {}})
    # By role: own objects of the demo user that only their colleague asks for (a cell deletes the user's saved
    # filter and marks their notice read; these stay as they were made).
    kept: dict[str, dict[str, int]] = field(default_factory=dict)


def _staff(username: str) -> Staff:
    return db.session.scalar(select(Staff).where(Staff.username == username))


def _add_staff():
    template = _staff("clerk")
    branch = db.session.scalar(select(Branch).where(Branch.code == OTHER))
    for username, role in EXTRA_STAFF:
        if _staff(username) is None:
            db.session.add(Staff(username=username, full_name="沪" + username[:2], role=role, branch_id=branch.id,
                                 password_hash=template.password_hash, qualification_no="S0201" + secrets.token_hex(3),
                                 is_regular_employee=True, is_marketing=False))
    db.session.commit()


def _logged_in(app, username: str) -> Auth:
    auth = Auth(app.test_client())
    assert auth.login(username).status_code == 303, username
    return auth


def _application(reference: str) -> Application:
    return db.session.scalar(select(Application).where(Application.reference == reference))


def _customer(customer_no: str) -> Customer:
    return db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))


def _submitted(app, auth, clerk: str, name: str, id_number: str, token: str, **steps) -> str:
    """Walk a draft to the end (`steps`: other data for some steps) and submit it for review; return its reference."""
    with app.app_context():
        clerk_id = _staff(clerk).id
    reference = factories.start(auth, token=token)
    factories.walk_with(auth, reference, "summary", clerk_id, identity=factories.identity(name=name, id_number=id_number),
                        **steps)
    assert auth.post(factories.step_url(reference, "summary")).status_code == 303
    return reference


def _approved(app, reference: str, reviewer: str):
    with app.app_context():
        who = _staff(reviewer)
        review.approve(_application(reference), who, who)
        db.session.commit()
        outbox.run_once()


def _visited(app, reference: str, agent: str) -> str:
    with app.app_context():
        application = _application(reference)
        return_visit.record_visit(application, _staff(agent), "passed", return_visit.required_items(application), "")
        db.session.commit()
        return db.session.scalar(select(Customer.customer_no).where(Customer.id == application.customer_id))


def _imported(branch_code: str, number: str, name: str, id_number: str, manager: str | None, kind="current") -> Customer:
    """An existing customer (imported, as existing customers are), with the birth date their ID number carries."""
    born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    customer = db.session.get(Customer, add_customer(number, name, id_number, branch_code=branch_code, birth_date=born,
                                                     kind=kind))
    if manager:
        managers.assign(customer, _staff(manager), _staff(manager), "测试分配")
    return customer


def build(app) -> World:
    """Make every branch's objects; returns the names each URL argument is filled from."""
    with app.app_context():
        _add_staff()
    world = World()
    admin = _logged_in(app, "admin")
    firm = _firm_samples(app)
    for index, code in enumerate((OWN, OTHER)):
        clerk, reviewer, agent, archivist, cmanager, broker, manager = MAKERS[code]
        values = world.values[code]
        values.update(firm)
        auth = _logged_in(app, clerk)
        seq = f"{index}1"
        # Each branch's people are born in another year, so no pair across the branches looks like one person.
        born = f"19{70 + index}0101"
        values["draft"] = factories.start(auth, token=f"matrix-draft-{code}")
        values["submitted"] = _submitted(app, auth, clerk, "马审核", factories.make_id("110105", "19880612", f"1{seq}"),
                                         f"matrix-sub-{code}")
        visiting = _submitted(app, auth, clerk, "马回访", factories.make_id("110105", "19880612", f"3{seq}"),
                              f"matrix-visit-{code}")
        _approved(app, visiting, reviewer)
        values["visiting"] = visiting
        active = _submitted(app, auth, clerk, "马开户", factories.make_id("110105", "19880612", f"5{seq}"),
                            f"matrix-active-{code}")
        _approved(app, active, reviewer)
        values["active_application"] = active
        values["active_customer"] = _visited(app, active, agent)
        with app.app_context():
            mine = _imported(code, f"C{code}0000{index}7", "马经理", factories.make_id("110105", born, f"7{seq}"),
                             cmanager)
            brokers = _imported(code, f"C{code}0000{index}8", "马经纪", factories.make_id("110105", born, f"8{seq}"),
                                broker)
            prospect = _imported(code, f"C{code}0000{index}9", "马潜在", factories.make_id("110105", born, f"9{seq}"),
                                 None, kind="potential")
            values["customer"], values["broker_customer"] = mine.customer_no, brokers.customer_no
            values["prospect"] = prospect.customer_no
            for key, customer, owner in (("service", mine, cmanager), ("broker_service", brokers, broker)):
                record = service.record_contact(_staff(owner), customer, kind=ServiceKind.CONSULTATION, subject="咨询",
                                                content="询问开户进度", follow_up_on=business_today() + timedelta(days=3),
                                                outcome="", client_token=f"matrix-{key}-{code}")
                values[key] = record.reference
            values["complaint"], values["service_file"] = _complaint(_staff(cmanager), mine, f"matrix-complaint-{code}")
            values["broker_complaint"], values["broker_service_file"] = _complaint(
                _staff(broker), brokers, f"matrix-broker-complaint-{code}")
            others = db.session.scalar(select(Staff).where(Staff.role == "customer_manager", Staff.username != cmanager,
                                                           Staff.branch_id == mine.branch_id))
            for key, customer, owner in (("handover", mine, cmanager), ("broker_handover", brokers, broker)):
                handover = managers.request_handover(
                    _staff(owner), from_staff=_staff(owner), kind=HandoverKind.SELECTED, customer_ids=[customer.id],
                    successor_ids=[others.id], effective_date=business_today() + timedelta(days=7), reason="岗位调整",
                    client_token=f"matrix-{key}-{code}")
                values[key] = handover.reference
            active_customer = _customer(values["active_customer"])
            scan = archive.add_scan(active_customer, "other", factories.scan_png(), "scan.png", _staff(archivist))
            values["scan"] = scan.id
            values["dossier"] = archive.generate_dossier_now(active_customer, _staff(archivist)).id
            db.session.commit()
            _application_samples(values)
        _business_samples(app, auth, values, code, archivist)
        _dormant_customer_samples(app, auth, values, code, seq)
        _merge_samples(app, values, code, born, seq)
        values["import"] = _holdings_import(_logged_in(app, manager))
        values["device"] = pair_reader(app, admin, f"柜台读卡器{code}", branch_code=code).id
    with app.app_context():
        _staff_admin_samples(world)
        _own_samples(world)
    _made_by_their_user(app, world)
    _colleague_samples(app, world)
    return world


def _complaint(owner: Staff, customer: Customer, token: str) -> tuple[str, int]:
    """A complaint `owner` took (首办负责制: they handle it), with the customer's letter kept: (reference, file id)."""
    record = service.record_contact(owner, customer, kind=ServiceKind.COMPLAINT, subject="佣金异议",
                                    content="客户称佣金高于约定", follow_up_on=None, outcome="", client_token=token,
                                    complaint={"channel": "letter", "category": "brokerage", "urgency": "general"})
    letter = service.attach_file(record, owner, factories.scan_png(), "投诉信.png")
    return record.reference, letter.id


def _own_samples(world: World) -> None:
    """A saved list filter and a workbench notice for each demo user, and one of another branch's clerk."""
    from blueprints.home.demo import DEMO_USERS

    world.values[OWN]["by_role"] = {str(role): _own_objects(username, "常用")
                                    for username, _n, role, _code in DEMO_USERS if username in USER_OF_ROLE.values()}
    world.values[OTHER].update(_own_objects(MAKERS[OTHER][0], "常用"))
    db.session.commit()


def _own_objects(username: str, name: str) -> dict[str, int]:
    """A saved list filter called `name` and an unread workbench notice, both `username`'s."""
    staff = _staff(username)
    saved = SavedCustomerFilter(staff_id=staff.id, name=name, params={"kind": "current"})
    notice = Notification(recipient_id=staff.id, topic="grade", text="客户分级已调整")
    db.session.add_all([saved, notice])
    db.session.flush()
    return {"filter": saved.id, "notification": notice.id}


def _colleague_samples(app, world: World) -> None:
    """Each demo user's colleague of the same branch and role (but HQ's), and a saved filter and a notice of the
    demo user's that no cell acts on. The archivist's export is the branch's sample export, which cells only read."""
    for role, username in COLLEAGUE_OF_ROLE.items():
        with app.app_context():
            exists = _staff(username) is not None
        if not exists:
            add_staff(app, username, str(role), OWN, full_name="许同岗")
    with app.app_context():
        world.kept.update({str(role): _own_objects(USER_OF_ROLE[role], "保留") for role in COLLEAGUE_OF_ROLE})
        db.session.commit()


def _made_by_their_user(app, world: World) -> None:
    """For each role a view admits, an object of their own where the view shows it only to its maker.

    A complaint is shown to whoever took or handles it (and the branch manager), so the clerk and the
    return-visit agent each take one (the customer manager's and the broker's are on their customers). An image
    saved in the wizard is shown to the application's maker only: the witness enters a witness opening, whose
    photo they may see again (the clerk's is a scan of the submitted application)."""
    by_role = world.values[OWN]["by_role"]
    with app.app_context():
        customer = _customer(world.values[OWN]["active_customer"])
        for role in (Role.CLERK, Role.RETURN_VISIT):
            complaint, letter = _complaint(_staff(USER_OF_ROLE[role]), customer, f"matrix-complaint-{role}")
            by_role[str(role)].update(complaint=complaint, service_file=letter)
        db.session.commit()
    witness = factories.identity(name="马见证", id_number=factories.make_id("110105", "19880612", "201"))
    _auth, reference = submit_witness(app, USER_OF_ROLE[Role.WITNESS], token="matrix-witness", identity=witness)
    with app.app_context():
        photo = _application(reference).step_data("witness")["photo_sha256"]
    by_role[str(Role.WITNESS)].update(file_application=reference, sha256=photo)


def _application_samples(values: dict) -> None:
    """Ids that hang off the applications: a scan under review (and its file), a return visit, an outbox message."""
    submitted, active = _application(values["submitted"]), _application(values["active_application"])
    document = db.session.scalar(select(ApplicationDocument).where(ApplicationDocument.application_id == submitted.id)
                                 .order_by(ApplicationDocument.id).limit(1))
    values["document"], values["file_application"], values["sha256"] = document.id, submitted.reference, document.sha256
    values["visit"] = db.session.scalar(select(ReturnVisit.id).where(ReturnVisit.application_id == active.id))
    values["message"] = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.application_id == active.id)
                                          .order_by(OutboxMessage.id).limit(1))


def _business_samples(app, auth, values: dict, code: str, archivist: str) -> None:
    """A change (on the manager's customer), a closure (of the active customer), an export and its job."""
    values["change"] = _ordinary_change(auth, values["customer"])
    closure = closure_support.start_closure(auth, values["active_customer"], _fund_account(app, values["active_customer"]))
    assert closure.status_code == 303, closure.get_data(as_text=True)[:1000]
    values["closure"] = closure_support.reference_from(closure)
    keeper = _logged_in(app, archivist)
    today = business_today().isoformat()
    export = keeper.post("/archive/exports", export_form(_branch_id(app, code), today, today))
    assert export.status_code == 303, export.get_data(as_text=True)[:3000]
    values["export"] = int(export.headers["Location"].rstrip("/").split("/")[-1])
    with app.app_context():
        values["job"] = db.session.scalar(select(Job.id).where(Job.subject_type == "export_job",
                                                                Job.subject_id == values["export"]))


def _dormant_customer_samples(app, auth, values: dict, code: str, seq: str) -> None:
    """A cautious (C1) customer back at the counter after three quiet years: their dormant fund account's
    reactivation waits for review, and they insisted on a product beyond their class (the signed warning kept)."""
    clerk, reviewer, agent = MAKERS[code][:3]
    reference = _submitted(app, auth, clerk, "马激活", factories.make_id("110105", "19880612", f"4{seq}"),
                           f"matrix-dormant-{code}", suitability=factories.answers("worst"))
    _approved(app, reference, reviewer)
    customer_no = _visited(app, reference, agent)
    number = _fund_account(app, customer_no)
    with app.app_context():
        app.extensions["trading"].set_position(number, last_trade_on=business_today() - timedelta(days=365 * 3 + 1))
    marked = app.test_cli_runner().invoke(args=["accounts", "mark-dormant"])
    assert marked.exit_code == 0 and "marked 1 dormant" in marked.output, marked.output
    reactivation = closure_support.start_reactivation(auth, customer_no, number)
    assert reactivation.status_code == 303, reactivation.get_data(as_text=True)[:1000]
    values["reactivation"] = closure_support.reference_from(reactivation)
    insisted = auth.post("/products/insist", {"customer_no": customer_no, "product_id": values["product"],
                                              "client_token": f"matrix-insist-{code}",
                                              "acknowledgement": (io.BytesIO(factories.scan_png()), "确认书.png")},
                         content_type="multipart/form-data")
    assert insisted.status_code == 303, insisted.get_data(as_text=True)[:1000]
    with app.app_context():
        values["recommendation"] = db.session.scalar(
            select(Recommendation.id).where(Recommendation.customer_id == _customer(customer_no).id,
                                            Recommendation.outcome == "insisted"))


def _merge_samples(app, values: dict, code: str, born: str, seq: str) -> None:
    """Records found to be one person (a residence permit beside an ID card), by the branch manager: one merged
    into the customer manager's customer and one into the broker's (approved by the reviewer), a merge waiting
    for review, and a pair whose merge is still to be entered."""
    manager, reviewer = MAKERS[code][6], MAKERS[code][1]
    boss, checker = _logged_in(app, manager), _logged_in(app, reviewer)
    with app.app_context():
        survivors = {"merged": values["customer"], "broker_merged": values["broker_customer"]}
        for key, name, number in (("merge", "马并档", "4"), ("flag", "马同人", "6")):
            id_number = factories.make_id("110105", born, f"{number}{seq}")
            survivors[key] = _imported(code, f"C{code}001{seq}{number}", name, id_number, None).customer_no
        pairs = {key: _second_record(_customer(survivor_no), f"C{code}002{seq}{n}", f"H{code}{seq}{n:02d}")
                 for n, (key, survivor_no) in enumerate(survivors.items())}
        db.session.commit()
    for flag_id, _number in pairs.values():
        found = boss.post(f"/search/duplicates/{flag_id}", {"status": "same_person", "note": "核对居住证与身份证"})
        assert found.status_code == 303, found.get_data(as_text=True)[:1000]
    references = {}
    for key in ("merged", "broker_merged", "merge"):
        proposed = propose(boss, pairs[key][0], survivors[key])
        assert proposed.status_code == 303, proposed.get_data(as_text=True)[:1000]
        references[key] = closure_support.reference_from(proposed)
    for key in ("merged", "broker_merged"):
        approved = checker.post(f"/merges/{references[key]}/decide", {"decision": "approve", "note": "核对无误"})
        assert approved.status_code == 303, approved.get_data(as_text=True)[:1000]
        values[key] = pairs[key][1]
    values["merge"], values["flag"] = references["merge"], pairs["flag"][0]


def _second_record(survivor: Customer, customer_no: str, permit: str) -> tuple[int, str]:
    """The survivor's person again, under a residence permit, as a potential customer: (the flag the pair
    raised, the second record's number)."""
    profile = survivor.profile
    branch_code = db.session.get(Branch, survivor.branch_id).code
    second = add_customer(customer_no, profile.name, permit, branch_code=branch_code, id_type=RESIDENCE_PERMIT,
                          birth_date=profile.birth_date, kind="potential")
    low, high = sorted((survivor.id, second))
    flag_id = db.session.scalar(select(DuplicateFlag.id).where(DuplicateFlag.customer_id == low,
                                                               DuplicateFlag.other_customer_id == high))
    assert flag_id is not None, customer_no
    return flag_id, customer_no


def _holdings_import(manager: Auth) -> int:
    """The branch manager's holdings file naming a customer nobody has: the import ends with the row refused."""
    rows = [HOLDING_HEADER, ["C9999999999", "", "600000", "100"]]
    return job_id_of(upload(manager, "holdings", csv_bytes(rows), "holdings.csv"))


def _firm_samples(app) -> dict[str, int]:
    """Firm-wide objects HQ keeps, the same in both branches' samples: a product, a grade rule, a dictionary entry."""
    from tests.fuzz.world import World as FormsWorld

    made = FormsWorld(app)
    with app.app_context():
        entry = db.session.scalar(select(DictionaryEntry.id).order_by(DictionaryEntry.id).limit(1))
    return {"product": made.product, "rule": made.grade_rule, "dictionary_entry": entry}


def _staff_admin_samples(world: World) -> None:
    """Per branch: a member of staff no cell logs in as (disabling or resetting them harms no client),
    the branch itself and one of its grants (总部赋权)."""
    from blueprints.staff_admin.models import BusinessGrant

    template = _staff("clerk")
    for code, values in world.values.items():
        branch = db.session.scalar(select(Branch).where(Branch.code == code))
        target = Staff(username=f"matrix_target_{code}", full_name="靶员工", role="clerk", branch_id=branch.id,
                       password_hash=template.password_hash)
        db.session.add(target)
        db.session.flush()
        values["staff"], values["branch"] = target.id, branch.id
        values["grant"] = db.session.scalar(select(BusinessGrant.id).where(BusinessGrant.branch_id == branch.id)
                                            .order_by(BusinessGrant.id).limit(1))
    db.session.commit()


def _branch_id(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Branch.id).where(Branch.code == code))


def _fund_account(app, customer_no: str) -> str:
    with app.app_context():
        customer_id = db.session.scalar(select(Customer.id).where(Customer.customer_no == customer_no))
        return db.session.scalar(select(FundAccount.number).where(FundAccount.customer_id == customer_id))


def _ordinary_change(auth, customer_no: str) -> str:
    """Enter an ordinary change (a new e-mail) and confirm it; return its reference."""
    from tests.changes.test_change_requests import _submit_ordinary

    fields = {k: v for k, v in factories.contact(email="matrix@example.com").items()}
    return _submit_ordinary(auth, customer_no, **fields)


def sample_values(world: World, branch: str, role: str) -> dict[str, object]:
    """The objects a user of `role` in `branch` works on: their own where a view shows one only to its maker,
    customer managers and brokers their own customers'."""
    values = dict(world.values[branch])
    values.update(values.pop("by_role", {}).get(str(role), {}))
    if role == "broker":
        values.update({name: values[broker_name] for name, broker_name in BROKER_SAMPLES.items()})
    return values


def colleague_values(world: World, role: str) -> dict[str, object]:
    """The objects of `role`'s demo user in 0101 that their colleague of the same role asks for: their sample
    values, with the saved filter and the notice no cell acts on."""
    return sample_values(world, OWN, role) | world.kept.get(str(role), {})
