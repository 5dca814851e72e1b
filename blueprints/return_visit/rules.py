"""Return-visit rules without Flask or a database: outcomes, the attempt allowance, where an account goes.

What counts toward the allowance: an account enters the return-visit queue once when its
accounts are opened, and again each time the branch manager sends it back; each entry starts
a round (轮). Every unsuccessful attempt of the current round (failed, refused, not reached)
counts; attempts of earlier rounds stay on record but do not count, so a round sent back by
the manager has the full allowance again.
"""
import enum


class CaseStatus(enum.StrEnum):
    AWAITING = "awaiting"     # in the agents' queue
    ESCALATED = "escalated"   # the round's attempts are used up: with the branch manager
    PASSED = "passed"         # a call passed and activated the accounts


CASE_STATUS_LABELS = {
    CaseStatus.AWAITING: "待回访",
    CaseStatus.ESCALATED: "未激活（回访未通过，待负责人处理）",
    CaseStatus.PASSED: "回访通过，已激活",
}

# The one table of a case's moves: the manager sends an escalated case back for a new round.
CASE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.AWAITING: frozenset({CaseStatus.ESCALATED, CaseStatus.PASSED}),
    CaseStatus.ESCALATED: frozenset({CaseStatus.AWAITING}),
    CaseStatus.PASSED: frozenset(),
}


class IllegalCaseTransition(Exception):
    def __init__(self, current: CaseStatus, target: CaseStatus):
        super().__init__(f"{current} -> {target} is not allowed")
        self.current, self.target = current, target


def check_case_transition(current: str, target: str) -> None:
    if CaseStatus(target) not in CASE_TRANSITIONS[CaseStatus(current)]:
        raise IllegalCaseTransition(CaseStatus(current), CaseStatus(target))


class Outcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_REACHED = "not_reached"
    REFUSED = "refused"


# Outcomes that need a written reason: the customer was reached and the visit did not pass.
REASON_REQUIRED = frozenset({Outcome.FAILED, Outcome.REFUSED})


def attempts_left(attempts_in_round: int, max_attempts: int) -> int:
    """How many more calls the current round allows."""
    return max(max_attempts - attempts_in_round, 0)


def status_after(outcome: Outcome, attempts_in_round: int, max_attempts: int) -> CaseStatus:
    """Where a case goes after a call; `attempts_in_round` includes this call.

    Passed activates the accounts; an unsuccessful call keeps the case in the queue while the
    round has attempts left, and hands it to the branch manager when they are used up.
    """
    if Outcome(outcome) == Outcome.PASSED:
        return CaseStatus.PASSED
    if attempts_in_round >= max_attempts:
        return CaseStatus.ESCALATED
    return CaseStatus.AWAITING


# The agents' queue works accounts not yet called in this round first, then those reached without
# passing, then those not reached; within a tier the longest waiting first.
TIER_UNTRIED, TIER_REACHED, TIER_NOT_REACHED = 0, 1, 2


def queue_tier(last_outcome_in_round: str | None) -> int:
    """The queue tier of a case from its current round's last call (None: not called in this round)."""
    if last_outcome_in_round is None:
        return TIER_UNTRIED
    return TIER_NOT_REACHED if Outcome(last_outcome_in_round) == Outcome.NOT_REACHED else TIER_REACHED
