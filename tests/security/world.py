"""One database state for the access-matrix cells: the same kinds of objects in two branches.

Branch 0101 holds the demo users (one per role); branch 0201 gets its own clerk, reviewer and return-visit
agent so that its objects are made the way 0101's are. Each branch's objects are reached by name
(`World.values[branch][name]`), and customer managers and brokers each have a customer of their own.
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
from blueprints.grading.models import GradeRule, Notification
from blueprints.search.models import SavedCustomerFilter
from blueprints.opening.models import ApplicationDocument
from blueprints.products.models import Product
from blueprints.reader.models import ReaderDevice
from blueprints.return_visit.models import ReturnVisit
from core.jobs import Job
from core.roles import Role
from core.outbox import OutboxMessage
from tests import factories
from tests.closure import support as closure_support
from tests.requests.test_archive_export import export_form
from tests.conftest import Auth
from tests.factories import existing_customer

OWN, OTHER = "0101", "0201"

# The staff who make each branch's objects: (clerk, reviewer, return-visit agent, archivist, customer manager, broker).
MAKERS = {
    OWN: ("clerk", "reviewer", "visitor", "archivist", "cmanager", "broker"),
    OTHER: ("clerk_sh", "reviewer_sh", "visitor_sh", "archivist_sh", "cmanager_sh", "broker_sh"),
}
# The one demo user per role the cells are requested as (blueprints/home/demo.py).
USER_OF_ROLE = {Role.CLERK: "clerk", Role.REVIEWER: "reviewer", Role.WITNESS: "witness", Role.MARKETING: "marketing",
                Role.RETURN_VISIT: "visitor", Role.ARCHIVIST: "archivist", Role.BRANCH_MANAGER: "manager",
                Role.HQ_ADMIN: "admin", Role.CUSTOMER_MANAGER: "cmanager", Role.BROKER: "broker"}
EXTRA_STAFF = (("reviewer_sh", "reviewer"), ("visitor_sh", "return_visit"), ("archivist_sh", "archivist"),
               ("cmanager_sh", "customer_manager"), ("cmanager2_sh", "customer_manager"), ("broker_sh", "broker"),
               ("manager_sh", "branch_manager"))


@dataclass
class World:
    values: dict[str, dict[str, object]] = field(default_factory=lambda: {OWN: {}, OTHER: {}})


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


def _application(reference: str) -> Application:
    return db.session.scalar(select(Application).where(Application.reference == reference))


def _submitted(app, auth, clerk: str, name: str, id_number: str, token: str) -> str:
    """Walk a draft to the end and submit it for review; return its reference."""
    with app.app_context():
        clerk_id = _staff(clerk).id
    reference = factories.start(auth, token=token)
    factories.walk_with(auth, reference, "summary", clerk_id, identity=factories.identity(name=name, id_number=id_number))
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
    branch = db.session.scalar(select(Branch).where(Branch.code == branch_code))
    customer = existing_customer(number, branch.id, name, id_number, kind=kind)
    if manager:
        managers.assign(customer, _staff(manager), _staff(manager), "测试分配")
    return customer


def build(app) -> World:
    """Make every branch's objects; returns the names each URL argument is filled from."""
    with app.app_context():
        _add_staff()
    world = World()
    for index, code in enumerate((OWN, OTHER)):
        clerk, reviewer, agent, archivist, cmanager, broker = MAKERS[code]
        values = world.values[code]
        auth = Auth(app.test_client())
        assert auth.login(clerk).status_code == 303, clerk
        seq = f"{index}1"
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
            # Customers of the customer manager and of the broker (imported, as existing customers are).
            mine = _imported(code, f"C{code}0000{index}7", "马经理", factories.make_id("110105", "19700101", f"7{seq}"),
                             cmanager)
            brokers = _imported(code, f"C{code}0000{index}8", "马经纪", factories.make_id("110105", "19700101", f"8{seq}"),
                                broker)
            prospect = _imported(code, f"C{code}0000{index}9", "马潜在", factories.make_id("110105", "19700101", f"9{seq}"),
                                 None, kind="potential")
            values["customer"], values["broker_customer"] = mine.customer_no, brokers.customer_no
            values["prospect"] = prospect.customer_no
            for key, customer, owner in (("service", mine, cmanager), ("broker_service", brokers, broker)):
                record = service.record_contact(_staff(owner), customer, kind=ServiceKind.CONSULTATION, subject="咨询",
                                                content="询问开户进度", follow_up_on=business_today() + timedelta(days=3),
                                                outcome="", client_token=f"matrix-{key}-{code}")
                values[key] = record.reference
            others = db.session.scalar(select(Staff).where(Staff.role == "customer_manager", Staff.username != cmanager,
                                                           Staff.branch_id == mine.branch_id))
            handover = managers.request_handover(
                _staff(cmanager), from_staff=_staff(cmanager), kind=HandoverKind.SELECTED, customer_ids=[mine.id],
                successor_ids=[others.id], effective_date=business_today() + timedelta(days=7), reason="岗位调整",
                client_token=f"matrix-handover-{code}")
            values["handover"] = handover.reference
            active_customer = db.session.scalar(select(Customer).where(Customer.customer_no == values["active_customer"]))
            scan = archive.add_scan(active_customer, "other", factories.scan_png(), "scan.png", _staff(archivist))
            values["scan"] = scan.id
            values["dossier"] = archive.generate_dossier_now(active_customer, _staff(archivist)).id
            db.session.commit()
            _application_samples(values)
        _business_samples(app, auth, values, code, archivist)
    with app.app_context():
        _global_samples(world)
        _own_samples(world)
    return world


def _own_samples(world: World) -> None:
    """A saved list filter and a workbench notice for each demo user, and one of another branch's clerk."""
    from blueprints.home.demo import DEMO_USERS

    def own(username: str) -> tuple[int, int]:
        staff = _staff(username)
        saved = SavedCustomerFilter(staff_id=staff.id, name="常用", params={"kind": "current"})
        notice = Notification(recipient_id=staff.id, topic="grade", text="客户分级已调整")
        db.session.add_all([saved, notice])
        db.session.flush()
        return saved.id, notice.id

    world.values[OWN]["own_by_role"] = {str(role): own(username) for username, _n, role, _code in DEMO_USERS
                                        if username in USER_OF_ROLE.values()}
    world.values[OTHER]["filter"], world.values[OTHER]["notification"] = own(MAKERS[OTHER][0])
    db.session.commit()


def _application_samples(values: dict) -> None:
    """Ids that hang off the applications: a scan under review, a return visit, an outbox message."""
    submitted, active = _application(values["submitted"]), _application(values["active_application"])
    values["document"] = db.session.scalar(select(ApplicationDocument.id)
                                           .where(ApplicationDocument.application_id == submitted.id).limit(1))
    values["visit"] = db.session.scalar(select(ReturnVisit.id).where(ReturnVisit.application_id == active.id))
    values["message"] = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.application_id == active.id)
                                          .order_by(OutboxMessage.id).limit(1))


def _business_samples(app, auth, values: dict, code: str, archivist: str) -> None:
    """A change (on the manager's customer), a closure (of the active customer), an export and its job."""
    values["change"] = _ordinary_change(auth, values["customer"])
    closure = closure_support.start_closure(auth, values["active_customer"], _fund_account(app, values["active_customer"]))
    assert closure.status_code == 303, closure.get_data(as_text=True)[:1000]
    values["closure"] = closure_support.reference_from(closure)
    keeper = Auth(app.test_client())
    assert keeper.login(archivist).status_code == 303
    today = business_today().isoformat()
    export = keeper.post("/archive/exports", export_form(_branch_id(app, code), today, today))
    assert export.status_code == 303, export.get_data(as_text=True)[:3000]
    values["export"] = int(export.headers["Location"].rstrip("/").split("/")[-1])
    with app.app_context():
        values["job"] = db.session.scalar(select(Job.id).where(Job.subject_type == "export_job",
                                                                Job.subject_id == values["export"]))


def _global_samples(world: World) -> None:
    """Firm-wide objects (HQ's settings): the same in both branches' samples."""
    shared = {
        "product": db.session.scalar(select(Product.id).limit(1)),
        "rule": db.session.scalar(select(GradeRule.id).limit(1)),
        "device": db.session.scalar(select(ReaderDevice.id).limit(1)),
        "dictionary_entry": db.session.scalar(select(DictionaryEntry.id).limit(1)),
    }
    for values in world.values.values():
        values.update({name: value for name, value in shared.items() if value is not None})
    _staff_admin_samples(world)


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
    """The objects a user of `role` in `branch` works on: customer managers and brokers their own customers."""
    values = dict(world.values[branch])
    if "own_by_role" in values:
        values["filter"], values["notification"] = values.pop("own_by_role")[str(role)]
    if role == "broker":
        values["customer"], values["service"] = values["broker_customer"], values["broker_service"]
        values.pop("handover")  # the sample handover is the customer manager's
    return values
