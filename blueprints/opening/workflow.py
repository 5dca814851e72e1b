"""Account-opening states, the allowed transitions between them, and the wizard steps."""
import enum
from dataclasses import dataclass


class Status(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    RESUBMITTED = "resubmitted"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"


STATUS_LABELS = {
    Status.DRAFT: "草稿",
    Status.SUBMITTED: "待复核",
    Status.REJECTED: "已退回",
    Status.RESUBMITTED: "重新提交待复核",
    Status.APPROVED: "复核通过",
    Status.WITHDRAWN: "已作废",
}

# The one table of allowed transitions; anything not listed is refused. The application's own
# lifecycle ends at approval: what follows is the accounts' (accounts/lifecycle.py) and the
# return visit's (return_visit/models.py), and opening shows it through progress.py.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.SUBMITTED, Status.WITHDRAWN}),
    Status.SUBMITTED: frozenset({Status.APPROVED, Status.REJECTED}),
    Status.REJECTED: frozenset({Status.RESUBMITTED, Status.WITHDRAWN}),
    Status.RESUBMITTED: frozenset({Status.APPROVED, Status.REJECTED}),
    Status.APPROVED: frozenset(),
    Status.WITHDRAWN: frozenset(),
}

# States in which the clerk may still change what was entered.
EDITABLE = frozenset({Status.DRAFT, Status.REJECTED})


class IllegalTransition(Exception):
    """A state change that the transition table does not allow."""

    def __init__(self, current: Status, target: Status):
        super().__init__(f"{current} -> {target} is not allowed")
        self.current = current
        self.target = target


def check_transition(current: Status, target: Status) -> None:
    if target not in TRANSITIONS[Status(current)]:
        raise IllegalTransition(Status(current), target)


def submit_target(current: Status) -> Status:
    """Where a submission goes: first submission or resubmission after rejection."""
    return Status.RESUBMITTED if Status(current) == Status.REJECTED else Status.SUBMITTED


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    optional: bool = False
    # The channels that have this step; None: every channel.
    channels: tuple[str, ...] | None = None
    # Whether a reviewer may return the application to this step for correction.
    returnable: bool = True


# Order matters: the wizard walks them top to bottom.
STEPS: tuple[Step, ...] = (
    Step("channel", "开户方式", returnable=False),
    Step("identity", "身份证明文件"),
    Step("contact", "联系方式与基本信息"),
    Step("verification", "公民身份核查"),
    Step("agent", "代理人", optional=True),
    Step("documents", "证件影像"),
    Step("disclosure", "投资者教育与风险揭示"),
    Step("suitability", "适当性评估"),
    Step("agreements", "协议签署"),
    Step("witness", "见证与签名", channels=("witness",)),
    Step("summary", "汇总与提交", returnable=False),
)
STEP_KEYS = tuple(step.key for step in STEPS)
STEP_BY_KEY = {step.key: step for step in STEPS}
# Steps whose saved result no longer holds when these fields of an earlier step change
# (None: any field): a new ID number needs a new check, a new agent a new acknowledgement.
DEPENDENTS: dict[str, tuple[tuple[str, ...] | None, tuple[str, ...]]] = {
    "identity": (("id_type", "id_number", "name"), ("verification", "documents")),
    # A new agent needs a new acknowledgement, and the agent's ID and authorisation scanned.
    "agent": (None, ("disclosure", "documents")),
}


def invalidated_by(key: str, before: dict | None, after: dict) -> tuple[str, ...]:
    """The dependent steps to drop when step `key` changes from `before` to `after`."""
    if key not in DEPENDENTS or before is None:
        return ()
    fields, dependents = DEPENDENTS[key]
    names = fields if fields is not None else set(before) | set(after)
    return dependents if any(before.get(f) != after.get(f) for f in names) else ()


def steps_for(channel: str) -> tuple[Step, ...]:
    """The steps of one channel, in order (the witness step only for witness opening)."""
    return tuple(step for step in STEPS if step.channels is None or channel in step.channels)


def keys_for(channel: str) -> tuple[str, ...]:
    return tuple(step.key for step in steps_for(channel))


def numbered_steps(channel: str) -> tuple[tuple[int, Step], ...]:
    """The channel's steps with the numbers every screen shows (1-based, the channel's own order)."""
    return tuple(enumerate(steps_for(channel), start=1))


def step_number(channel: str, key: str) -> int | None:
    """The number a step has on this channel; None when the channel has no such step."""
    keys = keys_for(channel)
    return keys.index(key) + 1 if key in keys else None


def step_label(channel: str, key: str) -> str:
    """"3. 联系方式与基本信息": number and title as the clerk's step list shows them."""
    number = step_number(channel, key)
    title = STEP_BY_KEY[key].title if key in STEP_BY_KEY else key
    return f"{number}. {title}" if number else title


def returnable_steps(channel: str) -> tuple[Step, ...]:
    """The steps a reviewer may return an application of this channel to."""
    return tuple(step for step in steps_for(channel) if step.returnable)


def is_returnable(channel: str, key: str | None) -> bool:
    return any(step.key == key for step in returnable_steps(channel))


def first_incomplete(completed: set[str], channel: str = "onsite") -> str:
    """The step to resume at: the first one not yet saved (summary when all are)."""
    for key in keys_for(channel)[:-1]:
        if key not in completed:
            return key
    return "summary"


def reachable(step_key: str, completed: set[str], channel: str = "onsite") -> bool:
    """A step can be opened once every step before it has been saved."""
    keys = keys_for(channel)
    if step_key not in keys:
        return False
    return all(key in completed for key in keys[:keys.index(step_key)])


def next_step(step_key: str, channel: str = "onsite") -> str:
    keys = keys_for(channel)
    index = keys.index(step_key)
    return keys[min(index + 1, len(keys) - 1)]


def missing_for_submit(completed: set[str], channel: str = "onsite") -> list[str]:
    return [key for key in keys_for(channel)[:-1] if key not in completed]
