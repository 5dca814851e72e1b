"""第十七条: two staff with a qualified witness, or one staff plus a remote video witness."""
from datetime import date

import pytest

from blueprints.opening.witness import StaffFacts, check_witnessing, witness_problems

TODAY = date(2026, 11, 25)


def staff(staff_id, name="甲", qualification="S0001", regular=True, marketing=False, trained=date(2026, 1, 1)):
    return StaffFacts(staff_id, name, qualification, regular, marketing, trained)


WITNESS = staff(1, "赵见证")
COLLEAGUE = staff(2, "王柜员")


def test_two_staff_with_a_qualified_witness_present_pass():
    assert check_witnessing([WITNESS, COLLEAGUE], WITNESS, False, None, TODAY) == {}


def test_one_staff_plus_a_remote_video_witness_passes():
    assert check_witnessing([COLLEAGUE], WITNESS, True, "VID-20261125-01", TODAY) == {}


@pytest.mark.parametrize("present, witness, remote, video, field, text", [
    ([COLLEAGUE], WITNESS, False, None, "present", "远程实时视频"),
    ([WITNESS, COLLEAGUE], staff(3, "外人"), False, None, "witness", "面见客户的工作人员之一"),
    ([COLLEAGUE], WITNESS, True, "", "video_reference", "视频会话编号"),
    ([COLLEAGUE, staff(3)], WITNESS, True, "V1", "present", "应为一人"),
    ([COLLEAGUE], COLLEAGUE, True, "V1", "witness", "不能是面见客户的同一人"),
    ([WITNESS, staff(2, "无证", qualification=None)], WITNESS, False, None, "present", "无证未登记"),
    ([], WITNESS, False, None, "present", "请选择"),
    ([WITNESS, COLLEAGUE], None, False, None, "witness", "请指定"),
])
def test_meetings_that_break_the_rule_say_which_rule(present, witness, remote, video, field, text):
    errors = check_witnessing(present, witness, remote, video, TODAY)
    assert text in errors[field]


@pytest.mark.parametrize("person, text", [
    (staff(5, "营销甲", marketing=True), "营销人员，不得担任见证人"),
    (staff(5, "临时乙", regular=False), "不是公司正式员工"),
    (staff(5, "新人丙", trained=None), "尚未通过开户见证培训"),
    (staff(5, "未来丁", trained=date(2026, 12, 1)), "尚未通过开户见证培训"),
    (staff(5, "无证戊", qualification=""), "未登记证券从业资格"),
])
def test_an_unfit_witness_is_refused_with_the_reason(person, text):
    assert any(text in problem for problem in witness_problems(person, TODAY))
    errors = check_witnessing([person, COLLEAGUE], person, False, None, TODAY)
    assert text in errors["witness"]


def test_marketing_staff_never_count_as_the_witness_even_when_qualified():
    marketer = staff(6, "钱营销", marketing=True)
    assert "witness" in check_witnessing([marketer, COLLEAGUE], marketer, False, None, TODAY)
