"""Unit tests for suitability questionnaire loading, answer checking and risk scoring."""

import copy
import json
from datetime import date
from pathlib import Path

import pytest

from blueprints.opening import scoring
from blueprints.opening.scoring import (
    INVESTOR_CLASS_LABELS,
    INVESTOR_CLASSES,
    LOWEST_CLASS_LABEL,
    AnswerError,
    check_answers,
    expires_on,
    load_questionnaire,
    questionnaire_from_dict,
    score,
)

SHIPPED_PATH = Path(scoring.__file__).parent / "questionnaires" / "individual-2026-v1.json"


@pytest.fixture(scope="module")
def shipped():
    return load_questionnaire(SHIPPED_PATH)


def _best_answers(q):
    """Top-scoring answer to every question that does not trigger the knock-out."""
    answers = {}
    for question in q.questions:
        ordinary = [o for o in question.options if not o.lowest]
        answers[question.key] = [max(ordinary, key=lambda o: o.score).key]
    return answers


def _answers_for_score(q, target):
    """Non-knock-out answers adding up to exactly target, or None if no combination does."""
    # Subset-sum over questions: reachable total -> one answer set reaching it.
    reachable = {0: {}}
    for question in q.questions:
        step = {}
        for total, answers in reachable.items():
            for option in question.options:
                if option.lowest:
                    continue
                new_total = total + option.score
                if new_total <= target and new_total not in step:
                    step[new_total] = {**answers, question.key: [option.key]}
        reachable = step
    return reachable.get(target)


# Small hand-checkable questionnaire: s1 single-choice, m2 multiple-choice, k3 knock-out.
SMALL = {
    "version": "test-v1",
    "title": "测试问卷",
    "validity_days": 365,
    "max_score": 9,
    "bands": [
        {"min": 0, "class": "C1"},
        {"min": 2, "class": "C2"},
        {"min": 4, "class": "C3"},
        {"min": 6, "class": "C4"},
        {"min": 8, "class": "C5"},
    ],
    "questions": [
        {
            "key": "s1",
            "text": "单选题",
            "multiple": False,
            "options": [
                {"key": "A", "text": "甲", "score": 0},
                {"key": "B", "text": "乙", "score": 3},
                {"key": "C", "text": "丙", "score": 5},
            ],
        },
        {
            "key": "m2",
            "text": "多选题",
            "multiple": True,
            "options": [
                {"key": "A", "text": "甲", "score": 1},
                {"key": "B", "text": "乙", "score": 4},
                {"key": "C", "text": "丙", "score": 2},
            ],
        },
        {
            "key": "k3",
            "text": "您是否存在以下情形",
            "multiple": False,
            "options": [
                {"key": "A", "text": "不具有完全民事行为能力", "score": 0, "lowest": True},
                {"key": "B", "text": "以上均不存在", "score": 0, "lowest": False},
            ],
        },
    ],
}
SMALL_VALID_ANSWERS = {"s1": ["A"], "m2": ["A"], "k3": ["B"]}


@pytest.fixture
def small():
    return questionnaire_from_dict(copy.deepcopy(SMALL))


# --- the shipped questionnaire -------------------------------------------------


def test_shipped_questionnaire_loads_with_version_matching_file_name(shipped):
    assert shipped.version == SHIPPED_PATH.stem
    assert shipped.title == "个人投资者风险承受能力评估问卷"
    assert shipped.validity_days == 730
    assert len(shipped.questions) >= 12


def test_shipped_max_score_is_100_and_matches_the_stored_field(shipped):
    raw = json.loads(SHIPPED_PATH.read_text(encoding="utf-8"))
    assert shipped.max_score == 100
    assert raw["max_score"] == shipped.max_score


def test_shipped_bands_use_the_documented_thresholds(shipped):
    assert [(b.min_score, b.investor_class) for b in shipped.bands] == [
        (0, "C1"),
        (20, "C2"),
        (37, "C3"),
        (54, "C4"),
        (82, "C5"),
    ]


def test_shipped_knock_out_options_are_only_the_three_lowest_class_situations(shipped):
    lowest = {(q.key, o.text) for q in shipped.questions for o in q.options if o.lowest}
    assert lowest == {
        ("q16", "不具有完全民事行为能力"),
        ("q16", "没有风险容忍度或者不愿承受任何损失"),
        ("q16", "法律法规规定的其他情形"),
    }


@pytest.mark.parametrize("index", range(len(INVESTOR_CLASSES)))
def test_shipped_band_is_reached_at_its_lowest_attainable_score(shipped, index):
    band = shipped.bands[index]
    # Some questions have no 0-point option, so C1 starts at the lowest attainable total.
    floor = sum(min(o.score for o in q.options if not o.lowest) for q in shipped.questions)
    target = max(band.min_score, floor)
    answers = _answers_for_score(shipped, target)
    assert answers is not None, f"no answers reach {target}"
    result = score(shipped, answers)
    assert result.score == target
    assert result.investor_class == band.investor_class
    assert result.label == INVESTOR_CLASS_LABELS[band.investor_class]
    assert result.is_lowest is False


@pytest.mark.parametrize("index", range(1, len(INVESTOR_CLASSES)))
def test_shipped_one_point_below_a_band_falls_in_the_class_below(shipped, index):
    target = shipped.bands[index].min_score - 1
    answers = _answers_for_score(shipped, target)
    assert answers is not None, f"no answers reach {target}"
    result = score(shipped, answers)
    assert result.score == target
    assert result.investor_class == shipped.bands[index - 1].investor_class


def test_shipped_best_answers_score_max_and_are_c5(shipped):
    result = score(shipped, _best_answers(shipped))
    assert (result.score, result.investor_class, result.label) == (100, "C5", "激进型")


RETIREE = {
    "q01": ["E"], "q02": ["D"], "q03": ["B"], "q04": ["C"], "q05": ["A"], "q06": ["A"],
    "q07": ["A", "B"], "q08": ["A"], "q09": ["A"], "q10": ["A"], "q11": ["A"], "q12": ["A"],
    "q13": ["A"], "q14": ["A"], "q15": ["A"], "q16": ["D"],
}  # fmt: skip
OFFICE_WORKER = {
    "q01": ["B"], "q02": ["A"], "q03": ["B"], "q04": ["B"], "q05": ["B"], "q06": ["B"],
    "q07": ["B", "C"], "q08": ["C"], "q09": ["B"], "q10": ["B"], "q11": ["A", "B"], "q12": ["B"],
    "q13": ["B"], "q14": ["B"], "q15": ["B"], "q16": ["D"],
}  # fmt: skip
SEASONED_TRADER = {
    "q01": ["A"], "q02": ["C"], "q03": ["E"], "q04": ["E"], "q05": ["A"], "q06": ["C"],
    "q07": ["B", "C", "D"], "q08": ["E"], "q09": ["D"], "q10": ["D"], "q11": ["B", "C", "D"],
    "q12": ["D"], "q13": ["D"], "q14": ["D"], "q15": ["D"], "q16": ["D"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("answers", "expected_score", "expected_class"),
    [(RETIREE, 17, "C1"), (OFFICE_WORKER, 44, "C3"), (SEASONED_TRADER, 99, "C5")],
    ids=["retiree", "office-worker", "seasoned-trader"],
)
def test_shipped_hand_scored_profiles(shipped, answers, expected_score, expected_class):
    result = score(shipped, answers)
    assert (result.score, result.investor_class) == (expected_score, expected_class)


@pytest.mark.parametrize("knock_out", [["A"], ["B"], ["C"], ["A", "C"], ["C", "D"]])
def test_shipped_knock_out_forces_lowest_class_despite_top_score(shipped, knock_out):
    answers = {**_best_answers(shipped), "q16": knock_out}
    result = score(shipped, answers)
    assert result.score == 100
    assert result.investor_class == "C1"
    assert result.is_lowest is True
    assert result.label == LOWEST_CLASS_LABEL


# --- answer checking -----------------------------------------------------------


def test_complete_valid_answers_have_no_errors(small):
    assert check_answers(small, SMALL_VALID_ANSWERS) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"s1": None}, AnswerError("s1", "请回答第1题")),
        ({"m2": []}, AnswerError("m2", "请回答第2题")),
        ({"s1": ["D"]}, AnswerError("s1", "第1题没有选项“D”")),
        ({"m2": ["A", "Z"]}, AnswerError("m2", "第2题没有选项“Z”")),
        ({"s1": ["A", "B"]}, AnswerError("s1", "第1题只能选择一个选项")),
        ({"m2": ["B", "B"]}, AnswerError("m2", "第2题的选项重复")),
        ({"s1": "A"}, AnswerError("s1", "第1题的答案格式不正确")),
        ({"x9": ["A"]}, AnswerError("x9", "问卷中没有题目“x9”")),
    ],
    ids=[
        "missing",
        "empty",
        "unknown-option",
        "unknown-option-in-multiple",
        "two-answers-to-single-choice",
        "repeated-option",
        "bare-string",
        "unknown-question",
    ],
)
def test_bad_answer_gives_one_error_and_blocks_scoring(small, changes, expected):
    answers = {**SMALL_VALID_ANSWERS, **changes}
    answers = {k: v for k, v in answers.items() if v is not None}
    assert check_answers(small, answers) == [expected]
    with pytest.raises(ValueError):
        score(small, answers)


def test_empty_answers_report_every_question_in_order(small):
    assert check_answers(small, {}) == [
        AnswerError("s1", "请回答第1题"),
        AnswerError("m2", "请回答第2题"),
        AnswerError("k3", "请回答第3题"),
    ]


# --- scoring rules -------------------------------------------------------------


@pytest.mark.parametrize(
    ("chosen", "expected_score"),
    [(["A"], 1), (["B"], 4), (["C"], 2), (["A", "C"], 2), (["C", "B"], 4), (["A", "B", "C"], 4)],
)
def test_multiple_choice_scores_highest_chosen_option(small, chosen, expected_score):
    result = score(small, {**SMALL_VALID_ANSWERS, "m2": chosen})
    assert result.score == expected_score


@pytest.mark.parametrize(
    ("s1", "m2", "expected_class"),
    [("A", "A", "C1"), ("A", "C", "C2"), ("B", "A", "C3"), ("C", "A", "C4"), ("C", "B", "C5")],
)
def test_score_picks_band_with_highest_minimum_not_above_score(small, s1, m2, expected_class):
    result = score(small, {**SMALL_VALID_ANSWERS, "s1": [s1], "m2": [m2]})
    assert result.investor_class == expected_class
    assert result.label == INVESTOR_CLASS_LABELS[expected_class]


def test_knock_out_in_small_questionnaire_overrides_c5(small):
    result = score(small, {"s1": ["C"], "m2": ["B"], "k3": ["A"]})
    assert (result.score, result.investor_class, result.is_lowest) == (9, "C1", True)


# --- questionnaire validation --------------------------------------------------


def _set(path, value):
    def mutate(data):
        target = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


def _delete(path):
    def mutate(data):
        target = data
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return mutate


def _swap_band_classes(data):
    bands = data["bands"]
    bands[1]["class"], bands[2]["class"] = bands[2]["class"], bands[1]["class"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_set(["questions", 1, "key"], "s1"), "duplicate question keys"),
        (_set(["questions", 0, "options", 1, "key"], "A"), "duplicate option keys"),
        (_set(["bands", 0, "min"], 1), "start at 0"),
        (_set(["bands", 2, "min"], 2), "strictly ascending"),
        (_delete(["bands", 4]), "once each"),
        (_set(["bands", 4, "class"], "C4"), "once each"),
        (_swap_band_classes, "in order"),
        (_set(["bands", 4, "class"], "C6"), "not one of"),
        (_set(["bands", 4, "min"], 10), "above max_score"),
        (_set(["max_score"], 10), "add up to 9"),
        (_set(["questions"], []), "questions must be"),
        (_set(["questions", 0, "options"], []), "options must be"),
        (_set(["questions", 0, "options", 0, "score"], -1), "score must be"),
        (_set(["questions", 0, "options", 0, "score"], "3"), "score must be"),
        (_set(["questions", 0, "options", 0, "score"], True), "score must be"),
        (_set(["validity_days"], 0), "validity_days"),
    ],
    ids=[
        "duplicate-question-key",
        "duplicate-option-key",
        "bands-not-starting-at-0",
        "bands-not-ascending",
        "missing-class",
        "duplicate-class",
        "classes-out-of-order",
        "unknown-class",
        "top-band-unreachable",
        "max-score-mismatch",
        "no-questions",
        "question-without-options",
        "negative-score",
        "string-score",
        "boolean-score",
        "non-positive-validity",
    ],
)
def test_malformed_questionnaire_is_rejected(mutate, message):
    data = copy.deepcopy(SMALL)
    mutate(data)
    with pytest.raises(ValueError, match=message):
        questionnaire_from_dict(data)


def test_max_score_field_is_optional():
    data = copy.deepcopy(SMALL)
    del data["max_score"]
    assert questionnaire_from_dict(data).max_score == 9


# --- expiry --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assessed_on", "expected"),
    [
        (date(2026, 1, 1), date(2028, 1, 1)),
        (date(2027, 3, 1), date(2029, 2, 28)),  # 730 days spans 29 Feb 2028
        (date(2027, 12, 31), date(2029, 12, 30)),
    ],
)
def test_assessment_expires_validity_days_later(shipped, assessed_on, expected):
    assert expires_on(assessed_on, shipped) == expected


def test_expiry_follows_the_questionnaires_own_validity(small):
    assert expires_on(date(2026, 5, 20), small) == date(2027, 5, 20)
