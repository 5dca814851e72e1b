"""Log lines nobody can forge: control characters (CR, LF and the rest) in log messages are escaped.

A value written into a log (a username typed at login, a header, a path) could otherwise end a line and
start one of its own that looks like the app's. Every record the process makes, the app's, the
libraries' and gunicorn's access log alike, has its message and arguments escaped as it is created.
Tracebacks keep their own line breaks.
"""
import logging
import re
from collections.abc import Mapping

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}


def escape(text: str) -> str:
    """`text` with each control character written out (\\r, \\n, \\t, \\xNN, \\uNNNN)."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                                             else f"\\u{ord(m.group()):04x}"), text)


def _safe(value):
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, (int, float)) or value is None:
        return value  # %d and %f still take them
    text = str(value)
    return escape(text) if _CONTROL.search(text) else value


def escape_record(record: logging.LogRecord) -> logging.LogRecord:
    if isinstance(record.msg, str):
        record.msg = escape(record.msg)
    elif record.msg is not None:
        record.msg = _safe(record.msg)
    if isinstance(record.args, Mapping):
        record.args = {key: _safe(value) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_safe(value) for value in record.args)
    return record


def install() -> None:
    """Escape every log record this process creates from now on (once, however often it is called)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "escapes_control_characters", False):
        return

    def escaping_factory(*args, **kwargs):
        return escape_record(factory(*args, **kwargs))

    escaping_factory.escapes_control_characters = True
    logging.setLogRecordFactory(escaping_factory)
