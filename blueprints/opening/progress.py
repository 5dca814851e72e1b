"""Where an application's opening stands, for the screens that list applications.

The application's own lifecycle ends at approval (workflow.py). What follows belongs to other
packages: the accounts being opened and their states (accounts), the return visit that
activates them (return_visit). They tell opening through one provider registered here, so
that opening imports none of them and a list of applications costs a fixed number of queries.
"""
import enum
from dataclasses import dataclass
from typing import Callable, Iterable

from blueprints.opening.workflow import STATUS_LABELS, Status


class Stage(enum.StrEnum):
    """After approval. The values double as CSS class suffixes, next to the statuses'."""

    APPROVED = "approved"                            # approved, the accounts' requests not yet queued
    ACCOUNTS_OPENING = "accounts_opening"            # requests on their way to China Clearing and the bank
    OPENING_FAILED = "opening_failed"                # China Clearing refused and the request was cancelled
    AWAITING_RETURN_VISIT = "awaiting_return_visit"  # accounts opened, not yet activated
    ESCALATED = "inactive"                           # return visits did not pass: with the branch manager
    ACTIVE = "active"                                # the return visit passed and activated the accounts


STAGE_LABELS = {
    Stage.APPROVED: STATUS_LABELS[Status.APPROVED],
    Stage.ACCOUNTS_OPENING: "账户开立中",
    Stage.OPENING_FAILED: "开户失败（中国结算拒绝，请求已撤销）",
    Stage.AWAITING_RETURN_VISIT: "待回访",
    Stage.ESCALATED: "未激活（回访未通过，待负责人处理）",
    Stage.ACTIVE: "已激活",
}

# Stages in which the opening is over without an active account: the customer may apply again.
SETTLED_WITHOUT_ACCOUNT = frozenset({Stage.OPENING_FAILED, Stage.ESCALATED})


@dataclass(frozen=True)
class Progress:
    """What a list shows for one application: a key for styling and a label."""

    key: str
    label: str


_PROVIDER: dict[str, Callable[[list[int]], dict[int, Stage]]] = {}


def after_approval_from(provider):
    """Register `provider(application_ids) -> {application_id: Stage}` for approved applications."""
    _PROVIDER["stages"] = provider
    return provider


def stages_of(application_ids: Iterable[int]) -> dict[int, Stage]:
    """The stage of each approved application (APPROVED where nothing has happened after it)."""
    ids = list(dict.fromkeys(application_ids))
    found = _PROVIDER["stages"](ids) if ids and "stages" in _PROVIDER else {}
    return {application_id: found.get(application_id, Stage.APPROVED) for application_id in ids}


def of(applications: Iterable) -> dict[int, Progress]:
    """Per application id: its status before approval, its stage after."""
    applications = list(applications)
    stages = stages_of(a.id for a in applications if a.status == Status.APPROVED)
    result = {}
    for application in applications:
        if application.id in stages:
            result[application.id] = Progress(str(stages[application.id]), STAGE_LABELS[stages[application.id]])
        else:
            result[application.id] = Progress(str(application.status), application.status_label)
    return result


def of_one(application) -> Progress:
    return of([application])[application.id]
