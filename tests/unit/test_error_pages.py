"""Every status the code aborts with has a Chinese error page (werkzeug's English default never shows)."""
import re
from pathlib import Path

from app import ERROR_PAGES

ROOT = Path(__file__).resolve().parents[2]


def test_every_aborted_status_has_a_chinese_page():
    statuses = set()
    for path in [ROOT / "app.py", *(ROOT / "blueprints").rglob("*.py"), *(ROOT / "core").rglob("*.py")]:
        statuses |= {int(code) for code in re.findall(r"\babort\((\d{3})", path.read_text(encoding="utf-8"))}
    # 401 has its own answer: the login page, or a header telling htmx to keep the form.
    missing = statuses - {401} - set(ERROR_PAGES)
    assert statuses and not missing, missing
    for title, message in ERROR_PAGES.values():
        assert re.search(r"[\u4e00-\u9fff]", title) and re.search(r"[\u4e00-\u9fff]", message)
