"""The risk-matching principle: C1 → R1 … C5 → R5; expired, missing or lowest class → R1 only."""
from datetime import date

import pytest

from blueprints.products.rules import Standing, match

TODAY = date(2026, 12, 2)
VALID = date(2027, 12, 1)


@pytest.mark.parametrize("investor_class, fits, refused", [
    ("C1", ["R1"], ["R2"]), ("C2", ["R1", "R2"], ["R3"]), ("C3", ["R3"], ["R4"]), ("C4", ["R4"], ["R5"]),
    ("C5", ["R1", "R5"], []),
])
def test_class_fits_up_to_its_level(investor_class, fits, refused):
    standing = Standing(investor_class, False, VALID)
    assert all(match(standing, level, TODAY).fits for level in fits)
    for level in refused:
        result = match(standing, level, TODAY)
        assert not result.fits and result.may_insist
        assert "不得向客户推荐" in result.message


def test_expired_assessment_allows_only_r1_and_no_insisting():
    standing = Standing("C5", False, date(2026, 12, 1))
    assert match(standing, "R1", TODAY).fits
    result = match(standing, "R2", TODAY)
    assert not result.fits and not result.may_insist and "过期" in result.message


def test_assessment_valid_through_its_last_day():
    assert match(Standing("C3", False, TODAY), "R3", TODAY).fits


def test_lowest_class_only_r1_even_when_insisting():
    result = match(Standing("C1", True, VALID), "R2", TODAY)
    assert not result.fits and not result.may_insist and "最低类别" in result.message


def test_no_assessment_only_r1():
    standing = Standing(None, False, None)
    assert match(standing, "R1", TODAY).fits
    assert not match(standing, "R2", TODAY).may_insist


def test_unknown_level_is_an_error():
    with pytest.raises(ValueError):
        match(Standing("C3", False, VALID), "R6", TODAY)
