"""Log lines cannot be forged: CR, LF and other control characters in messages and arguments are escaped."""
import logging

import pytest

from core import logsafe


@pytest.fixture
def escaping():
    previous = logging.getLogRecordFactory()
    logsafe.install()
    yield
    logging.setLogRecordFactory(previous)


def _line(message, *args):
    record = logging.getLogger("kyc.test").makeRecord("kyc.test", logging.WARNING, __file__, 1, message, args, None)
    return logging.Formatter("%(levelname)s %(message)s").format(record)


def test_a_username_with_cr_lf_stays_on_one_line(escaping):
    line = _line("login failed for %s", "clerk\r\nINFO login succeeded for admin")
    assert "\n" not in line and "\r" not in line
    assert line == "WARNING login failed for clerk\\r\\nINFO login succeeded for admin"


def test_control_characters_in_the_message_itself_and_in_mapping_args_are_escaped(escaping):
    assert _line("a\nb\x1b[31m\u2028") == "WARNING a\\nb\\x1b[31m\\u2028"
    record = logging.getLogger("kyc.test").makeRecord("kyc.test", logging.INFO, __file__, 1, "%(h)s %(r)s",
                                                      ({"h": "1.2.3.4", "r": "GET /\r\nx"},), None)
    assert logging.Formatter("%(message)s").format(record) == "1.2.3.4 GET /\\r\\nx"


def test_numbers_still_format_and_plain_text_is_left_alone(escaping):
    assert _line("%d rows for %s in %.1f s", 3, "王柜员", 0.25) == "WARNING 3 rows for 王柜员 in 0.2 s"


def test_objects_whose_text_breaks_lines_are_escaped(escaping):
    assert _line("failed: %s", ValueError("bad\nvalue")) == "WARNING failed: bad\\nvalue"


def test_installing_twice_escapes_once(escaping):
    logsafe.install()
    assert _line("%s", "a\nb") == "WARNING a\\nb"


def test_the_app_installs_it(app, caplog):
    with caplog.at_level(logging.WARNING):
        app.logger.warning("login failed for %s", "x\r\nforged")
    assert caplog.records[-1].getMessage() == "login failed for x\\r\\nforged"
