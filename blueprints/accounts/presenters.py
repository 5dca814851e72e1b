"""Accounts on other packages' pages: an approved application's progress block and the customer page."""
import hashlib
from dataclasses import dataclass

from sqlalchemy import select

from blueprints.accounts import services as account_services
from blueprints.accounts.models import AccountStatus, BINDING_STATUS_LABELS, DepositoryBinding, SecuritiesAccount
from blueprints.customers import page as customer_page
from blueprints.opening import presenters as opening_presenters
from blueprints.opening import progress as opening_progress
from blueprints.opening.workflow import Status
from core.extensions import db
from core.outbox import MessageStatus


@dataclass(frozen=True)
class AccountsProgress:
    """What happened after approval: the fund account, the sub-accounts, the depository, requests on their way."""

    fund_account: object | None
    sub_accounts: list
    depository: object | None
    pending_requests: list
    finished: bool       # the opening is over (every account open, or failed): nothing is awaited any more
    needs_attention: bool  # an external system refused: a person must act, waiting will not help
    stage: opening_progress.Progress  # where the application's opening stands (for its status badge)

    @property
    def opened(self) -> bool:
        return self.fund_account is not None and self.fund_account.status not in (AccountStatus.OPENING,
                                                                                   AccountStatus.FAILED)

    @property
    def polling(self) -> bool:
        return not (self.finished or self.needs_attention)

    @property
    def binding_label(self) -> str:
        return BINDING_STATUS_LABELS.get(self.depository.status, self.depository.status) if self.depository else "—"

    @staticmethod
    def system_label(topic: str) -> str:
        return account_services.SYSTEM_LABELS.get(topic, topic)

    @property
    def digest(self) -> str:
        """A fingerprint of what the block shows, so a poll can tell that nothing changed."""
        fund = self.fund_account
        # Ids and states only: the value ends up in a URL, account numbers must not.
        parts = [fund.id if fund else None, fund.status if fund else None,
                 [(s.id, s.status) for s in self.sub_accounts],
                 self.depository.status if self.depository else None,
                 [(m.id, m.status, m.attempts, m.next_attempt_at) for m in self.pending_requests],
                 self.finished, self.needs_attention, self.stage.key]
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


@opening_presenters.contributes("accounts")
def accounts_progress(application) -> AccountsProgress | None:
    """The accounts of an approved application; None before approval."""
    if application.status != Status.APPROVED:
        return None
    fund_account = account_services.fund_account_of(application)
    sub_accounts, depository = [], None
    if fund_account is not None:
        sub_accounts = list(db.session.scalars(select(SecuritiesAccount)
                                               .where(SecuritiesAccount.fund_account_id == fund_account.id)
                                               .order_by(SecuritiesAccount.market)))
        depository = db.session.scalar(select(DepositoryBinding)
                                       .where(DepositoryBinding.fund_account_id == fund_account.id))
    pending = account_services.pending_requests(application)
    return AccountsProgress(
        fund_account=fund_account, sub_accounts=sub_accounts, depository=depository, pending_requests=pending,
        # The last delivery moves the fund account on from opening (accounts.services).
        finished=fund_account is not None and fund_account.status != AccountStatus.OPENING,
        needs_attention=any(m.status == MessageStatus.REJECTED for m in pending),
        stage=opening_progress.of_one(application),
    )


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    """The customer's fund accounts the user may see, with their securities accounts and depository."""
    return {"accounts": account_services.accounts_of(user, customer), "binding_labels": BINDING_STATUS_LABELS}
