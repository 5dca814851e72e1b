"""Reading customers and their accounts, within what the reader may see."""
import re

from sqlalchemy import or_, select

from blueprints.accounts.models import DepositoryBinding, FundAccount, SecuritiesAccount
from blueprints.auth.models import Branch, Staff
from blueprints.customers.models import Customer, CustomerKind
from core.extensions import db

LIST_LIMIT = 50
# Customer numbers are letters and digits; anything else cannot match and is not searched for.
CUSTOMER_NO_QUERY = re.compile(r"[A-Za-z0-9]{1,16}")


def visible(user: Staff):
    """Customers `user` may see: all for HQ; otherwise those of the branch or with an account there.

    A closed (historical) customer drops out: after closure only archivists read the file.
    """
    query = select(Customer).where(Customer.kind != CustomerKind.HISTORICAL)
    if not user.sees_all_branches:
        opened_here = select(FundAccount.customer_id).where(FundAccount.branch_id == user.branch_id)
        query = query.where(or_(Customer.branch_id == user.branch_id, Customer.id.in_(opened_here)))
    return query


def newest(user: Staff) -> list[Customer]:
    return list(db.session.scalars(visible(user).order_by(Customer.created_at.desc(), Customer.id.desc())
                                   .limit(LIST_LIMIT)))


def search(user: Staff, customer_no: str) -> list[Customer]:
    if not CUSTOMER_NO_QUERY.fullmatch(customer_no):
        return []
    return list(db.session.scalars(visible(user).where(Customer.customer_no.startswith(customer_no))
                                   .order_by(Customer.customer_no).limit(LIST_LIMIT)))


def find_visible(user: Staff, customer_no: str) -> Customer | None:
    return db.session.scalar(visible(user).where(Customer.customer_no == customer_no))


def branch(branch_id: int) -> Branch | None:
    return db.session.get(Branch, branch_id)


def accounts_of(user: Staff, customer: Customer) -> list[dict]:
    """The customer's fund accounts the user may see, each with its securities accounts and depository."""
    query = select(FundAccount).where(FundAccount.customer_id == customer.id)
    if not user.sees_all_branches:
        query = query.where(FundAccount.branch_id == user.branch_id)
    fund_accounts = list(db.session.scalars(query.order_by(FundAccount.opened_at, FundAccount.id)))
    ids = [account.id for account in fund_accounts]
    securities, bindings, branches = {}, {}, {}
    if ids:
        for account in db.session.scalars(select(SecuritiesAccount).where(SecuritiesAccount.fund_account_id.in_(ids))
                                          .order_by(SecuritiesAccount.market)):
            securities.setdefault(account.fund_account_id, []).append(account)
        bindings = {b.fund_account_id: b for b in db.session.scalars(
            select(DepositoryBinding).where(DepositoryBinding.fund_account_id.in_(ids)))}
        branches = {b.id: b for b in db.session.scalars(
            select(Branch).where(Branch.id.in_({account.branch_id for account in fund_accounts})))}
    return [{
        "fund_account": account,
        "branch": branches.get(account.branch_id),
        "securities": securities.get(account.id, []),
        "depository": bindings.get(account.id),
    } for account in fund_accounts]
