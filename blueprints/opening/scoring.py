"""Load suitability questionnaires and turn a customer's answers into a risk class."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

INVESTOR_CLASSES = ("C1", "C2", "C3", "C4", "C5")
INVESTOR_CLASS_LABELS = {
    "C1": "保守型",
    "C2": "谨慎型",
    "C3": "稳健型",
    "C4": "积极型",
    "C5": "激进型",
}
# Customers knocked out by a "lowest" option are C1 but must be told apart from
# ordinary C1 customers: firms may only sell them the lowest-risk products.
LOWEST_CLASS_LABEL = "保守型（最低类别）"


def class_label(investor_class: str, is_lowest: bool) -> str:
    """How a result is shown: "C3 稳健型", or "C1 保守型（最低类别）"."""
    if is_lowest:
        return f"C1 {LOWEST_CLASS_LABEL}"
    return f"{investor_class} {INVESTOR_CLASS_LABELS[investor_class]}"


@dataclass(frozen=True)
class Option:
    key: str
    text: str
    score: int
    lowest: bool = False
    # An option that excludes every other one of its question ("以上均不存在").
    exclusive: bool = False
    # For a question answered from the ID: the inclusive range of ages this option covers.
    ages: tuple[int, int | None] | None = None


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    options: tuple[Option, ...]
    multiple: bool = False
    # A fact about the customer the answer must agree with ("age", from the ID's birth date).
    derive: str | None = None

    def option(self, key: str) -> Option | None:
        for option in self.options:
            if option.key == key:
                return option
        return None

    @property
    def max_score(self) -> int:
        # Multiple-choice questions score their highest chosen option, so the
        # best case is the same as for a single-choice question.
        return max(option.score for option in self.options)


@dataclass(frozen=True)
class Band:
    min_score: int
    investor_class: str


@dataclass(frozen=True)
class Questionnaire:
    version: str
    title: str
    validity_days: int
    questions: tuple[Question, ...]
    bands: tuple[Band, ...]

    @property
    def max_score(self) -> int:
        return sum(question.max_score for question in self.questions)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _is_int(value: object) -> bool:
    # bool is a subclass of int; a JSON true/false where a number belongs is a data error.
    return isinstance(value, int) and not isinstance(value, bool)


def _option_from_dict(data: object, question_key: str) -> Option:
    _require(isinstance(data, dict), f"question {question_key}: each option must be an object")
    key = data.get("key")
    text = data.get("text")
    score = data.get("score")
    lowest = data.get("lowest", False)
    _require(isinstance(key, str) and key != "", f"question {question_key}: option key must be a non-empty string")
    _require(isinstance(text, str) and text != "", f"question {question_key} option {key}: text must be a non-empty string")
    _require(_is_int(score) and score >= 0, f"question {question_key} option {key}: score must be a non-negative integer")
    _require(isinstance(lowest, bool), f"question {question_key} option {key}: lowest must be a boolean")
    exclusive = data.get("exclusive", False)
    _require(isinstance(exclusive, bool), f"question {question_key} option {key}: exclusive must be a boolean")
    ages = data.get("ages")
    if ages is not None:
        _require(isinstance(ages, list) and len(ages) == 2 and _is_int(ages[0]) and (ages[1] is None or _is_int(ages[1])),
                 f"question {question_key} option {key}: ages must be [min, max] (max may be null)")
        ages = (ages[0], ages[1])
    return Option(key=key, text=text, score=score, lowest=lowest, exclusive=exclusive, ages=ages)


def _question_from_dict(data: object) -> Question:
    _require(isinstance(data, dict), "each question must be an object")
    key = data.get("key")
    text = data.get("text")
    multiple = data.get("multiple", False)
    raw_options = data.get("options")
    _require(isinstance(key, str) and key != "", "question key must be a non-empty string")
    _require(isinstance(text, str) and text != "", f"question {key}: text must be a non-empty string")
    _require(isinstance(multiple, bool), f"question {key}: multiple must be a boolean")
    _require(isinstance(raw_options, list) and raw_options, f"question {key}: options must be a non-empty list")
    options = tuple(_option_from_dict(item, key) for item in raw_options)
    option_keys = [option.key for option in options]
    duplicates = sorted({k for k in option_keys if option_keys.count(k) > 1})
    _require(not duplicates, f"question {key}: duplicate option keys {duplicates}")
    derive = data.get("derive")
    _require(derive in (None, "age"), f"question {key}: derive must be \"age\" or absent")
    if derive == "age":
        _require(all(option.ages is not None for option in options), f"question {key}: every option needs ages")
    _require(multiple or not any(option.exclusive for option in options),
             f"question {key}: exclusive options only make sense in a multiple-choice question")
    return Question(key=key, text=text, options=options, multiple=multiple, derive=derive)


def _bands_from_list(raw_bands: object) -> tuple[Band, ...]:
    _require(isinstance(raw_bands, list) and raw_bands, "bands must be a non-empty list")
    bands = []
    for item in raw_bands:
        _require(isinstance(item, dict), "each band must be an object")
        min_score = item.get("min")
        investor_class = item.get("class")
        _require(_is_int(min_score), f"band {investor_class}: min must be an integer")
        _require(investor_class in INVESTOR_CLASSES, f"band class {investor_class!r} is not one of {INVESTOR_CLASSES}")
        bands.append(Band(min_score=min_score, investor_class=investor_class))
    _require(bands[0].min_score == 0, "the first band must start at 0 so every score has a class")
    for lower, upper in zip(bands, bands[1:]):
        _require(
            upper.min_score > lower.min_score,
            f"band minimums must be strictly ascending ({lower.min_score} then {upper.min_score})",
        )
    classes = tuple(band.investor_class for band in bands)
    # A higher score must never give a lower class, so the order is fixed too.
    _require(classes == INVESTOR_CLASSES, f"bands must cover {INVESTOR_CLASSES} once each in order, got {classes}")
    return tuple(bands)


def questionnaire_from_dict(data: dict) -> Questionnaire:
    """Build a Questionnaire from parsed JSON, raising ValueError if the data is inconsistent."""
    _require(isinstance(data, dict), "questionnaire must be an object")
    version = data.get("version")
    title = data.get("title")
    validity_days = data.get("validity_days")
    raw_questions = data.get("questions")
    _require(isinstance(version, str) and version != "", "version must be a non-empty string")
    _require(isinstance(title, str) and title != "", "title must be a non-empty string")
    _require(_is_int(validity_days) and validity_days > 0, "validity_days must be a positive integer")
    _require(isinstance(raw_questions, list) and raw_questions, "questions must be a non-empty list")
    questions = tuple(_question_from_dict(item) for item in raw_questions)
    question_keys = [question.key for question in questions]
    duplicates = sorted({k for k in question_keys if question_keys.count(k) > 1})
    _require(not duplicates, f"duplicate question keys {duplicates}")
    bands = _bands_from_list(data.get("bands"))
    questionnaire = Questionnaire(
        version=version,
        title=title,
        validity_days=validity_days,
        questions=questions,
        bands=bands,
    )
    # The stored max_score is a checksum against hand edits of the weights.
    if "max_score" in data:
        _require(
            data["max_score"] == questionnaire.max_score,
            f"max_score is {data['max_score']!r} but the options add up to {questionnaire.max_score}",
        )
    _require(
        bands[-1].min_score <= questionnaire.max_score,
        f"band {bands[-1].investor_class} starts at {bands[-1].min_score}, above max_score {questionnaire.max_score}",
    )
    return questionnaire


def load_questionnaire(path: str | Path) -> Questionnaire:
    with open(path, encoding="utf-8") as fh:
        return questionnaire_from_dict(json.load(fh))


@dataclass(frozen=True)
class AnswerError:
    question_key: str
    message: str


@dataclass(frozen=True)
class Result:
    score: int
    investor_class: str
    is_lowest: bool
    label: str


def _covers(option: Option, age: int) -> bool:
    low, high = option.ages
    return age >= low and (high is None or age <= high)


def derived_answers(q: Questionnaire, facts: dict) -> dict[str, list[str]]:
    """The answers that follow from the customer's ID (the age band from the birth date)."""
    derived = {}
    for question in q.questions:
        if question.derive == "age" and isinstance(facts.get("age"), int):
            derived[question.key] = [o.key for o in question.options if _covers(o, facts["age"])][:1]
    return derived


def check_answers(q: Questionnaire, answers: dict[str, list[str]], facts: dict | None = None) -> list[AnswerError]:
    """Return one error per badly answered question, in questionnaire order; empty if all is well.

    Answers to question keys the questionnaire does not have are errors too:
    the stored answers must match the version they were scored against. `facts` are what
    the ID says (age): an answer that contradicts them is an error.
    """
    derived = derived_answers(q, facts or {})
    errors = []
    for number, question in enumerate(q.questions, start=1):
        chosen = answers.get(question.key)
        if chosen is None or (isinstance(chosen, (list, tuple)) and not chosen):
            errors.append(AnswerError(question.key, f"请回答第{number}题"))
            continue
        # A bare string would otherwise be iterated character by character.
        if not isinstance(chosen, (list, tuple)) or not all(isinstance(k, str) for k in chosen):
            errors.append(AnswerError(question.key, f"第{number}题的答案格式不正确"))
            continue
        unknown = [k for k in chosen if question.option(k) is None]
        if unknown:
            errors.append(AnswerError(question.key, f"第{number}题没有选项“{'、'.join(unknown)}”"))
        elif len(set(chosen)) != len(chosen):
            errors.append(AnswerError(question.key, f"第{number}题的选项重复"))
        elif not question.multiple and len(chosen) != 1:
            errors.append(AnswerError(question.key, f"第{number}题只能选择一个选项"))
        elif len(chosen) > 1 and any(question.option(k).exclusive for k in chosen):
            only = next(question.option(k) for k in chosen if question.option(k).exclusive)
            errors.append(AnswerError(question.key, f"第{number}题选择了“{only.text}”，不能同时选择其他选项"))
        elif question.key in derived and derived[question.key] and chosen != derived[question.key]:
            expected = question.option(derived[question.key][0])
            errors.append(AnswerError(question.key, f"第{number}题与证件不符：按证件出生日期，客户现年 {facts['age']} 周岁，"
                                                    f"应选择“{expected.text}”"))
    known = {question.key for question in q.questions}
    for key in answers:
        if key not in known:
            errors.append(AnswerError(key, f"问卷中没有题目“{key}”"))
    return errors


def score(q: Questionnaire, answers: dict[str, list[str]]) -> Result:
    """Score complete answers; raise ValueError if check_answers reports any error."""
    errors = check_answers(q, answers)
    if errors:
        raise ValueError("invalid answers: " + "; ".join(f"{e.question_key}: {e.message}" for e in errors))
    total = 0
    is_lowest = False
    for question in q.questions:
        chosen = [question.option(key) for key in answers[question.key]]
        # Multiple-choice questions count only the highest-scoring chosen
        # option, so ticking many boxes cannot inflate the risk class.
        total += max(option.score for option in chosen)
        is_lowest = is_lowest or any(option.lowest for option in chosen)
    if is_lowest:
        # The knock-out overrides the score: 《证券期货投资者适当性管理办法》
        # requires these customers to be treated as the lowest category.
        return Result(score=total, investor_class="C1", is_lowest=True, label=LOWEST_CLASS_LABEL)
    investor_class = next(band.investor_class for band in reversed(q.bands) if total >= band.min_score)
    return Result(
        score=total,
        investor_class=investor_class,
        is_lowest=False,
        label=INVESTOR_CLASS_LABELS[investor_class],
    )


def expires_on(assessed_on: date, q: Questionnaire) -> date:
    return assessed_on + timedelta(days=q.validity_days)
