"""The application state machine: every allowed transition, and the rest refused."""
import itertools

import pytest

from blueprints.opening import workflow
from blueprints.opening.workflow import IllegalTransition, Status

ALLOWED = {
    (Status.DRAFT, Status.SUBMITTED), (Status.DRAFT, Status.WITHDRAWN),
    (Status.SUBMITTED, Status.APPROVED), (Status.SUBMITTED, Status.REJECTED),
    (Status.REJECTED, Status.RESUBMITTED), (Status.REJECTED, Status.WITHDRAWN),
    (Status.RESUBMITTED, Status.APPROVED), (Status.RESUBMITTED, Status.REJECTED),
}


@pytest.mark.parametrize("current, target", sorted(ALLOWED))
def test_allowed_transition_passes(current, target):
    workflow.check_transition(current, target)


@pytest.mark.parametrize("current, target", sorted(
    pair for pair in itertools.product(Status, Status) if pair not in ALLOWED))
def test_any_other_transition_is_refused(current, target):
    with pytest.raises(IllegalTransition):
        workflow.check_transition(current, target)


def test_the_table_is_exactly_the_documented_flow():
    table = {(a, b) for a, targets in workflow.TRANSITIONS.items() for b in targets}
    assert table == ALLOWED


def test_the_application_lifecycle_ends_at_approval():
    """What follows approval is the accounts' and the return visit's, not the application's."""
    assert workflow.TRANSITIONS[Status.APPROVED] == frozenset()
    assert set(Status) == {Status.DRAFT, Status.SUBMITTED, Status.REJECTED, Status.RESUBMITTED, Status.APPROVED,
                           Status.WITHDRAWN}


def test_every_status_has_a_chinese_label():
    assert set(workflow.STATUS_LABELS) == set(Status)


@pytest.mark.parametrize("current, expected", [
    (Status.DRAFT, Status.SUBMITTED), (Status.REJECTED, Status.RESUBMITTED)])
def test_submission_target_depends_on_whether_it_was_returned(current, expected):
    assert workflow.submit_target(current) == expected


def test_resume_goes_to_the_first_unsaved_step():
    assert workflow.first_incomplete(set()) == "channel"
    assert workflow.first_incomplete({"channel", "identity", "verification"}) == "contact"
    assert workflow.first_incomplete(set(workflow.STEP_KEYS[:-1])) == "summary"


def test_a_step_is_reachable_only_after_all_before_it():
    assert workflow.reachable("identity", {"channel"})
    assert not workflow.reachable("contact", {"channel"})


@pytest.mark.parametrize("key, before, after, dropped", [
    ("identity", {"id_number": "1", "name": "甲", "address": "a"}, {"id_number": "1", "name": "甲", "address": "b"}, ()),
    ("identity", {"id_number": "1", "name": "甲"}, {"id_number": "2", "name": "甲"}, ("verification", "documents")),
    ("identity", {"id_number": "1", "name": "甲"}, {"id_number": "1", "name": "乙"}, ("verification", "documents")),
    ("agent", {"has_agent": False}, {"has_agent": False}, ()),
    ("agent", {"has_agent": False}, {"has_agent": True, "name": "丙"}, ("disclosure", "documents")),
    ("contact", {"mobile": "1"}, {"mobile": "2"}, ()),
    ("identity", None, {"id_number": "1"}, ()),
])
def test_changing_a_step_invalidates_what_depends_on_it(key, before, after, dropped):
    assert workflow.invalidated_by(key, before, after) == dropped


def test_numbers_come_from_the_channels_own_steps():
    assert workflow.step_number("onsite", "summary") == 10
    assert workflow.step_number("witness", "witness") == 10
    assert workflow.step_number("witness", "summary") == 11
    assert workflow.step_number("onsite", "witness") is None
    assert workflow.step_label("witness", "summary") == "11. 汇总与提交"


def test_an_onsite_application_cannot_be_returned_to_the_witness_step():
    onsite = {step.key for step in workflow.returnable_steps("onsite")}
    witness = {step.key for step in workflow.returnable_steps("witness")}
    assert "witness" not in onsite and "witness" in witness
    assert not {"channel", "summary"} & (onsite | witness)
    assert not workflow.is_returnable("onsite", "witness")
    assert workflow.is_returnable("witness", "witness")
