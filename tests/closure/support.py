"""Helpers for closure tests: an active customer, the worker run to the end, the clerk's forms."""
import re

from sqlalchemy import select

from blueprints.accounts.models import FundAccount
from blueprints.closure.models import AccountClosure
from blueprints.customers.models import Customer
from blueprints.home.demo import DEMO_PASSWORD
from core import outbox
from core.extensions import db
from tests.lifecycle import activate_customer


def active_customer(app, auth, name: str = "刘䶮", token: str = "lifecycle-1") -> tuple[str, str]:
    """Log in as the clerk, open and activate accounts; return (customer number, fund account number)."""
    if auth.token is None:
        auth.login("clerk")
    customer_no = activate_customer(app, auth, name=name, token=token)
    with app.app_context():
        customer_id = db.session.scalar(select(Customer.id).where(Customer.customer_no == customer_no))
        number = db.session.scalar(select(FundAccount.number).where(FundAccount.customer_id == customer_id))
    return customer_no, number


def drain(app, rounds: int = 10):
    """Run the worker until nothing more is delivered; return the summaries."""
    summaries = []
    with app.app_context():
        for _ in range(rounds):
            summary = outbox.run_once()
            summaries.append(summary)
            if not (summary.delivered or summary.retried):
                break
    return summaries


def start_form(auth, customer_no: str, number: str) -> dict:
    """The start form of one fund account as the pre-check page renders it."""
    html = auth.get(f"/closure/{customer_no}").get_data(as_text=True)
    section = html.split(f'id="start-closure-{number}"', 1)[1].split("</form>", 1)[0]
    token = re.search(r'name="client_token" type="hidden" value="([^"]+)"', section)
    assert token, section
    return {"fund_account": number, "client_token": token.group(1), "confirmed": "y"}


def start_closure(auth, customer_no: str, number: str, **overrides):
    data = start_form(auth, customer_no, number)
    data.update(overrides)
    return auth.post(f"/closure/{customer_no}/start", data)


def start_reactivation(auth, customer_no: str, number: str):
    """Submit the reactivation of a dormant fund account from the pre-check page's form, the ID checked."""
    html = auth.get(f"/closure/{customer_no}").get_data(as_text=True)
    section = html.split(f'id="start-reactivation-{number}"', 1)[1].split("</form>", 1)[0]
    token = re.search(r'name="reactivate-client_token" type="hidden" value="([^"]+)"', section).group(1)
    return auth.post(f"/closure/{customer_no}/reactivate", {"reactivate-fund_account": number,
                                                            "reactivate-client_token": token,
                                                            "reactivate-id_checked": "y"})


def reference_from(response) -> str:
    location = response.headers.get("Location") or response.headers.get("HX-Redirect")
    return location.rstrip("/").split("/")[-1]


def review(auth, reference: str, decision: str = "approve", username: str = "reviewer",
           password: str = DEMO_PASSWORD, reason: str = "", htmx: bool = False, path: str = "/closure/{}/review"):
    return auth.post(path.format(reference), {"reviewer_username": username, "reviewer_password": password,
                                              "decision": decision, "reason": reason}, htmx=htmx)


def closure_row(app, reference: str) -> AccountClosure:
    with app.app_context():
        closure = db.session.scalar(select(AccountClosure).where(AccountClosure.reference == reference))
        db.session.expunge(closure)
        return closure


def fund_status(app, number: str) -> str:
    with app.app_context():
        return str(db.session.scalar(select(FundAccount.status).where(FundAccount.number == number)))
