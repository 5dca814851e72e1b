"""Return-visit rules without Flask or a database: outcomes, the attempt allowance, where an account goes.

What counts toward the allowance: an account enters the return-visit queue once when its
accounts are opened, and again each time the branch manager sends it back; each entry starts
a round (轮). Every unsuccessful attempt of the current round (failed, refused, not reached)
counts; attempts of earlier rounds stay on record but do not count, so a round sent back by
the manager has the full allowance again.
"""
import enum

from blueprints.opening.workflow import Status


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


def status_after(outcome: Outcome, attempts_in_round: int, max_attempts: int) -> Status:
    """Where an account goes after a call; `attempts_in_round` includes this call.

    Passed activates it; an unsuccessful call keeps it in the queue while the round has
    attempts left, and hands it to the branch manager (inactive) when they are used up.
    """
    if Outcome(outcome) == Outcome.PASSED:
        return Status.ACTIVE
    if attempts_in_round >= max_attempts:
        return Status.INACTIVE
    return Status.AWAITING_RETURN_VISIT


def round_of(queue_entries: int) -> int:
    """The round an account is in, from how often it entered the queue (at least the first)."""
    return max(queue_entries, 1)
