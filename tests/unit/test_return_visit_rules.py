"""Return-visit rules without an app: where an account goes after a call, and rounds."""
import pytest

from blueprints.opening.workflow import Status
from blueprints.return_visit import rules
from blueprints.return_visit.rules import Outcome


@pytest.mark.parametrize("outcome, attempts_in_round, max_attempts, expected", [
    (Outcome.PASSED, 1, 3, Status.ACTIVE),
    (Outcome.PASSED, 3, 3, Status.ACTIVE),
    (Outcome.FAILED, 1, 3, Status.AWAITING_RETURN_VISIT),
    (Outcome.REFUSED, 2, 3, Status.AWAITING_RETURN_VISIT),
    (Outcome.NOT_REACHED, 2, 3, Status.AWAITING_RETURN_VISIT),
    (Outcome.FAILED, 3, 3, Status.INACTIVE),
    (Outcome.REFUSED, 3, 3, Status.INACTIVE),
    (Outcome.NOT_REACHED, 3, 3, Status.INACTIVE),
    (Outcome.NOT_REACHED, 5, 3, Status.INACTIVE),  # the setting lowered while a round ran
    (Outcome.NOT_REACHED, 1, 1, Status.INACTIVE),
])
def test_status_after_a_call(outcome, attempts_in_round, max_attempts, expected):
    assert rules.status_after(outcome, attempts_in_round, max_attempts) == expected


def test_every_unsuccessful_outcome_counts_and_only_passed_activates():
    assert {o for o in Outcome if rules.status_after(o, 1, 1) == Status.INACTIVE} == set(Outcome) - {Outcome.PASSED}


@pytest.mark.parametrize("entries, round_no", [(0, 1), (1, 1), (2, 2), (5, 5)])
def test_round_is_how_often_the_account_entered_the_queue(entries, round_no):
    assert rules.round_of(entries) == round_no


def test_attempts_left_never_goes_below_zero():
    assert [rules.attempts_left(n, 3) for n in range(5)] == [3, 2, 1, 0, 0]
