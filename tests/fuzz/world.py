"""The objects the writing routes' URLs name, made on demand in the demo branch (0101) by the app's own flows."""
import re
import secrets
from functools import cached_property

from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.home.demo import DEMO_PASSWORD
from core.extensions import db
from tests import factories
from tests.requests.helpers import login_as, staff_id

DEMO_CUSTOMER = "C0101000001"
MISSING = "NOPE-404"  # a reference nothing has: the route is fuzzed against a missing object


class World:
    """Logged-in clients per demo user, and the records the routes act on, each made once per test."""

    def __init__(self, app):
        self.app = app
        self._auths = {}

    def auth(self, username: str):
        if username not in self._auths:
            self._auths[username] = login_as(self.app, username, DEMO_PASSWORD)
        return self._auths[username]

    def _one(self, statement):
        with self.app.app_context():
            return db.session.scalar(statement)

    # -- the opening
    def draft_at(self, key: str) -> str:
        """A draft whose steps before `key` are saved, by the clerk."""
        clerk = self.auth("clerk")
        reference = factories.start(clerk, token=secrets.token_hex(8))
        factories.walk(clerk, reference, key, staff_id(self.app, "clerk"))
        return reference

    @cached_property
    def submitted(self) -> str:
        """A draft submitted for review (复核), with its documents."""
        reference = self.draft_at("summary")
        response = self.auth("clerk").post(factories.step_url(reference, "summary"))
        assert response.status_code == 303, response.status_code
        return reference

    @cached_property
    def document_id(self) -> int:
        from blueprints.opening.models import Application, ApplicationDocument

        return self._one(select(ApplicationDocument.id).join(Application, Application.id == ApplicationDocument.application_id)
                         .where(Application.reference == self.submitted))

    @cached_property
    def approved(self) -> str:
        """An approved opening whose accounts are open, waiting for its return visit (回访)."""
        from blueprints.opening.models import Application
        from blueprints.review import services as review
        from core import outbox

        reference = self.draft_at("summary")
        assert self.auth("clerk").post(factories.step_url(reference, "summary")).status_code == 303
        with self.app.app_context():
            application = db.session.scalar(select(Application).where(Application.reference == reference))
            reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
            review.approve(application, reviewer, reviewer)
            db.session.commit()
            outbox.run_once()
        return reference

    @cached_property
    def customer_no(self) -> str:
        """An active customer with open accounts (the whole opening, return visit passed)."""
        from tests.lifecycle import activate_customer

        return activate_customer(self.app, self.auth("clerk"), name="刘䶮", token=secrets.token_hex(8))

    @cached_property
    def fund_account(self) -> str:
        from blueprints.accounts.models import FundAccount
        from blueprints.customers.models import Customer

        return self._one(select(FundAccount.number).join(Customer, Customer.id == FundAccount.customer_id)
                         .where(Customer.customer_no == self.customer_no))

    @cached_property
    def message_id(self) -> int:
        from core.outbox import OutboxMessage

        self.customer_no
        return self._one(select(OutboxMessage.id).order_by(OutboxMessage.id))

    # -- businesses on a customer
    @cached_property
    def closure(self) -> str:
        from tests.closure.support import reference_from, start_closure

        response = start_closure(self.auth("clerk"), self.customer_no, self.fund_account)
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
        return reference_from(response)

    @cached_property
    def change(self) -> str:
        """An ordinary change (mobile) entered, confirmed and waiting for its review."""
        from tests.changes.test_change_requests import _submit_ordinary

        return _submit_ordinary(self.auth("clerk"), self.customer_no, mobile="13912345678")

    @cached_property
    def service_record(self) -> str:
        """A complaint on the demo customer, recorded by the clerk."""
        from blueprints.service.models import ServiceRecord

        response = self.auth("clerk").post(f"/service/new/{DEMO_CUSTOMER}", data={
            "client_token": secrets.token_hex(8), "kind": "complaint", "subject": "佣金收取有异议",
            "content": "客户称佣金高于约定。", "channel": "phone", "category": "brokerage", "urgency": "general",
            "received_on": factories.business_date(), "complained_staff": 0, "handler": 0})
        assert response.status_code == 303, response.get_data(as_text=True)[:1500]
        return self._one(select(ServiceRecord.reference).order_by(ServiceRecord.id.desc()))

    @cached_property
    def handover(self) -> str:
        """A handover of the demo customer from cmanager to cmanager2, waiting for the branch manager."""
        from blueprints.customers.models import Customer
        from blueprints.managers.models import Handover

        customer_id = self._one(select(Customer.id).where(Customer.customer_no == DEMO_CUSTOMER))
        response = self.auth("cmanager").post("/managers/handovers/new", data={
            "client_token": secrets.token_hex(8), "from_staff": staff_id(self.app, "cmanager"), "kind": "selected",
            "customers": [customer_id], "successors": [staff_id(self.app, "cmanager2")],
            "effective_date": factories.business_date(days=-3), "reason": "岗位调整"})
        assert response.status_code == 303, response.get_data(as_text=True)[:1500]
        return self._one(select(Handover.reference).order_by(Handover.id.desc()))

    @cached_property
    def duplicate_flag(self) -> int:
        """Two records of one person flagged as possible duplicates (not yet looked at)."""
        from tests.merges.test_merge import same_person

        return same_person(self.app, None)

    @cached_property
    def same_person_flag(self) -> int:
        """A flagged pair the branch manager found to be one person: ready for a merge to be entered."""
        from tests.merges.test_merge import same_person

        return same_person(self.app, self.auth("manager"), first_no="C0101500011", second_no="C0101500012")

    @cached_property
    def merge(self) -> str:
        from blueprints.merges.models import CustomerMerge
        from tests.merges.test_merge import propose

        response = propose(self.auth("manager"), self.same_person_flag, "C0101500011")
        assert response.status_code == 303, response.get_data(as_text=True)[:1500]
        return self._one(select(CustomerMerge.reference).order_by(CustomerMerge.id.desc()))

    # -- configuration records
    @cached_property
    def saved_filter(self) -> int:
        from blueprints.search.models import SavedCustomerFilter

        response = self.auth("clerk").post("/customers/filters", data={"name": "我的筛选", "kind": "current"})
        assert response.status_code < 400, response.status_code
        return self._one(select(SavedCustomerFilter.id).order_by(SavedCustomerFilter.id.desc()))

    # -- staff administration
    @cached_property
    def staff_target(self) -> int:
        """A member of staff no case logs in as: disabling, resetting or ending their sessions harms no client."""
        from tests.requests.helpers import add_staff

        return add_staff(self.app, "fuzz_target", "clerk")

    @cached_property
    def branch_id(self) -> int:
        from blueprints.auth.models import Branch

        return self._one(select(Branch.id).where(Branch.code == "0101"))

    @cached_property
    def grant_id(self) -> int:
        from blueprints.staff_admin.models import BusinessGrant

        return self._one(select(BusinessGrant.id).where(BusinessGrant.branch_id == self.branch_id)
                         .order_by(BusinessGrant.id))

    @cached_property
    def dictionary_entry(self) -> int:
        from blueprints.dictionaries.models import DictionaryEntry

        return self._one(select(DictionaryEntry.id).order_by(DictionaryEntry.id))

    @cached_property
    def grade_rule(self) -> int:
        from blueprints.grading.models import GradeRule

        found = self._one(select(GradeRule.id).order_by(GradeRule.id))
        if found is None:
            response = self.auth("admin").post("/grading/rules/new", {
                "new-grade": "gold", "new-precedence": "10", "new-min_total_assets": "1000000", "new-enabled": "y"})
            assert response.status_code == 303, response.get_data(as_text=True)[:1500]
            found = self._one(select(GradeRule.id).order_by(GradeRule.id))
        return found

    @cached_property
    def product(self) -> int:
        from blueprints.products.models import Product

        response = self.auth("admin").post("/products/new", {
            "new-code": "FZ01", "new-name": "稳健债券", "new-product_type": "bond", "new-risk_level": "R2", "new-on_sale": "y"})
        assert response.status_code == 303, response.get_data(as_text=True)[:1500]
        return self._one(select(Product.id).where(Product.code == "FZ01"))

    @cached_property
    def reader(self):
        from tests.reader.support import pair_reader

        return pair_reader(self.app, self.auth("admin"), "前台读卡器")

    @cached_property
    def terminal_paired(self):
        from tests.reader.support import pair_terminal

        pair_terminal(self.auth("clerk"), self.reader)
        return True

    @cached_property
    def prospect(self) -> str:
        """A potential customer (潜在客户) entered by the clerk."""
        from blueprints.customers.models import Customer
        from tests.reminders.test_prospects import enter

        response = enter(self.auth("clerk"), name="陈志强", id_number=factories.make_id("110105", "19900307", "151"))
        assert response.status_code == 303, response.get_data(as_text=True)[:1500]
        return self._one(select(Customer.customer_no).order_by(Customer.id.desc()))

    @cached_property
    def claimed(self) -> str:
        """A submitted application the reviewer has taken (认领)."""
        reference = self.submitted
        assert self.auth("reviewer").post(f"/review/{reference}/claim").status_code == 303
        return reference
