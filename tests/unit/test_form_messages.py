"""A field whose value does not parse shows one message, its own, not a second from its range or required check."""
import pytest
from werkzeug.datastructures import MultiDict
from wtforms import DateField, DecimalField, IntegerField
from wtforms.validators import InputRequired, NumberRange, Optional

from core.forms import QueryForm


class Numbers(QueryForm):
    count = IntegerField("数量", validators=[InputRequired("请输入数量"), NumberRange(min=1, message="数量至少为 1")])
    amount = DecimalField("金额", validators=[InputRequired("请输入金额"), NumberRange(min=0, message="金额不能为负数")])
    months = IntegerField("月数", validators=[Optional(), NumberRange(min=0, message="月数不能为负数")])
    day = DateField("日期", validators=[Optional()])


@pytest.mark.parametrize("values, expected", [
    ({"count": "abc", "amount": "x", "months": "q", "day": "2026-13-01"},
     {"count": ["不是有效的整数。"], "amount": ["不是有效的小数。"], "months": ["不是有效的整数。"], "day": ["不是有效的日期值。"]}),
    ({"count": "0", "amount": "-1", "months": "-2"},
     {"count": ["数量至少为 1"], "amount": ["金额不能为负数"], "months": ["月数不能为负数"]}),
    ({"count": "", "amount": ""}, {"count": ["请输入数量"], "amount": ["请输入金额"]}),
])
def test_one_message_per_field(values, expected):
    form = Numbers(MultiDict(values))
    assert not form.validate()
    assert form.errors == expected


def test_the_checks_stay_on_the_class_after_a_bad_value():
    Numbers(MultiDict({"count": "abc", "amount": "1"})).validate()
    again = Numbers(MultiDict({"count": "0", "amount": "1"}))
    assert not again.validate() and again.errors == {"count": ["数量至少为 1"]}
