"""No personal value travels in a URL (logs, history and Referer keep URLs): every GET form, link, query
form and route is walked, and each search that takes a personal value is posted and kept on the server."""
import inspect
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from blueprints.search.kept import KEPT_FOR
from blueprints.search.models import KeptSearch
from core.extensions import db
from core.forms import QueryForm
from core.timeutil import utcnow
from tests.requests.helpers import login_as, page_of

ROOT = Path(__file__).resolve().parents[2]
# Names that carry a personal value (C2): a customer's name, ID number, phone, card, address, e-mail.
PERSONAL = re.compile(r"(^|_)(name|names|id_number|id_no|idno|mobile|phone|tel|card|card_no|address|email|"
                      r"bank_card|account_no|birth_date)($|_)")
SEEDED_ID = "11010519491231002X"  # the demo's existing customer, 张建国


def _templates():
    return sorted((ROOT / "templates").rglob("*.html"))


def _forms(source: str):
    """(attributes of the opening tag, body) of each form in a template; an include in the tag is read too."""
    for match in re.finditer(r"<form\b(.*?)>(.*?)</form>", source, re.S):
        attributes = match.group(1)
        for included in re.findall(r'{%\s*include\s+"([^"]+)"\s*%}', attributes):
            attributes += (ROOT / "templates" / included).read_text()
        yield attributes, match.group(2)


def _field_names(body: str) -> set[str]:
    return set(re.findall(r'\bname="([^"{]+)"', body)) | set(re.findall(r"field\(\s*\w+\.(\w+)", body))


def test_the_walk_would_see_a_personal_field_in_a_get_form():
    source = '<form method="get" action="/x"><input name="id_number">{{ field(form.mobile) }}</form>'
    [(attributes, body)] = list(_forms(source))
    assert {name for name in _field_names(body) if PERSONAL.search(name)} == {"id_number", "mobile"}


def test_no_get_form_in_any_template_sends_a_personal_field():
    found = []
    for path in _templates():
        for attributes, body in _forms(path.read_text()):
            method = re.search(r'\bmethod="(\w+)"', attributes)
            posted = (method and method.group(1).lower() == "post") or ("hx-post" in attributes and not method)
            if not posted:
                found += [(path.name, name) for name in _field_names(body) if PERSONAL.search(name)]
    assert found == []


def test_no_link_built_in_a_template_or_a_view_carries_a_personal_argument():
    found = []
    sources = _templates() + sorted((ROOT / "blueprints").rglob("*.py")) + sorted((ROOT / "core").rglob("*.py"))
    for path in sources:
        for call in re.finditer(r"url_for\(((?:[^()]|\([^()]*\))*)\)", path.read_text()):
            found += [(path.name, key) for key in re.findall(r"(\w+)\s*=(?!=)", call.group(1)) if PERSONAL.search(key)]
    assert found == []


def test_no_view_reads_a_personal_value_from_the_query_string():
    found = []
    for path in sorted((ROOT / "blueprints").rglob("*.py")):
        for key in re.findall(r"request\.args(?:\.get)?[\[(]\s*[\"'](\w+)[\"']", path.read_text()):
            if PERSONAL.search(key):
                found.append((path.name, key))
    assert found == []


def _query_forms(cls=QueryForm):
    for sub in cls.__subclasses__():
        yield sub
        yield from _query_forms(sub)


def test_no_query_string_form_has_a_personal_field(app):
    forms = list(_query_forms())
    assert len(forms) >= 5  # every filter form of the lists, not none
    found = [(form.__name__, name) for form in forms for name, _field in inspect.getmembers(form)
             if not name.startswith("_") and hasattr(_field, "field_class") and PERSONAL.search(name)]
    assert found == []


def test_no_route_takes_a_personal_value_in_its_path(app):
    found = [(rule.rule, name) for rule in app.url_map.iter_rules() for name in rule.arguments if PERSONAL.search(name)]
    assert found == []


# --- each search that takes a personal value -------------------------------------------------------

SEARCHES = [
    # (user, URL, what is typed, the field it is typed in, what the results show)
    ("archivist", "/archive/", {"name": "建国"}, "name", "C0101"),
    ("archivist", "/archive/", {"id_number": SEEDED_ID}, "id_number", "C0101"),
    ("clerk", "/search/results", {"q": "张建国"}, "q", "C0101"),
    ("clerk", "/search/results", {"q": SEEDED_ID}, "q", "C0101"),
]


def _search(app, username, url, typed):
    user = login_as(app, username)
    posted = user.post(url, typed)
    assert posted.status_code == 303
    return user, posted.headers["Location"]


def _everything_typed_is_absent(text: str, typed: dict):
    for value in typed.values():
        assert value not in text and value.lower() not in text


@pytest.mark.parametrize("username, url, typed, field, shown", SEARCHES)
def test_a_personal_search_is_posted_and_its_results_url_holds_only_a_key(app, username, url, typed, field, shown):
    user, location = _search(app, username, url, typed)
    assert re.fullmatch(re.escape(url) + r"\?s=[A-Za-z0-9_-]{16,32}", location)
    _everything_typed_is_absent(location, typed)
    response = user.get(location)
    assert response.status_code == 200 and shown in response.get_data(as_text=True)
    # Nothing the user typed is lost: it is in the form again, and in no URL of the page.
    page = page_of(response)
    [typed_value] = typed.values()
    assert any(i.get("name") == field and i.get("value") == typed_value for i in page.inputs)
    for link in page.urls:
        _everything_typed_is_absent(link, typed)
    # Reload (or back) is a GET of the same URL and shows the same results.
    assert user.get(location).get_data(as_text=True).count(shown) == response.get_data(as_text=True).count(shown)


@pytest.mark.parametrize("username, url, typed, field, shown", SEARCHES)
def test_a_kept_search_is_read_only_by_the_staff_member_who_typed_it(app, username, url, typed, field, shown):
    _user, location = _search(app, username, url, typed)
    other = login_as(app, "admin")
    response = other.get(location)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert shown not in body and "该查询已过期" in body
    _everything_typed_is_absent(body, typed)


@pytest.mark.parametrize("username, url, typed, field, shown", SEARCHES[:3:2])
def test_an_expired_kept_search_asks_again(app, username, url, typed, field, shown):
    user, location = _search(app, username, url, typed)
    with app.app_context():
        db.session.execute(update(KeptSearch).values(created_at=utcnow() - KEPT_FOR - timedelta(minutes=1)))
        db.session.commit()
    body = user.get(location).get_data(as_text=True)
    assert "该查询已过期" in body and shown not in body


def test_kept_searches_are_encrypted_at_rest(app):
    _search(app, "archivist", "/archive/", {"id_number": SEEDED_ID})
    with app.app_context():
        stored = db.session.execute(select(KeptSearch.__table__.c.criteria)).scalars().all()
    assert stored and all(SEEDED_ID not in value for value in stored)


def test_the_archive_paging_links_carry_the_key_and_a_cursor_only(app):
    # Enough customers named 王 for a second page.
    from tests.requests.test_list_paging import grow

    grow(app, 1500, seed=3)
    user, location = _search(app, "admin", "/archive/", {"name": "王"})
    body = user.get(location).get_data(as_text=True)
    following = re.search(r'class="button keyset-next" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    assert re.fullmatch(r"/archive/\?s=[A-Za-z0-9_-]+&after=[^&]+|/archive/\?after=[^&]+&s=[A-Za-z0-9_-]+", following)
    assert "王" not in following
    assert user.get(following).status_code == 200
