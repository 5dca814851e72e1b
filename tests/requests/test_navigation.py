"""The header menu: every link a role is offered opens for it, large menus fold into groups, the search box follows the search route's roles."""
import re

import pytest

from tests.requests.helpers import login_as

ROLES = ("clerk", "reviewer", "witness", "marketing", "visitor", "archivist", "manager", "admin", "cmanager", "broker")


def nav_of(html: str) -> str:
    return html.split('<nav class="topnav"', 1)[1].split("</nav>", 1)[0]


def menu_links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', nav_of(html))


def link_labels(nav: str) -> list[str]:
    return re.findall(r"<a [^>]*>([^<]+)</a>", nav)


def group_labels(nav: str) -> set[str]:
    return set(re.findall(r"<summary>([^<]+)</summary>", nav))


def top_level_labels(nav: str) -> list[str]:
    return link_labels(re.sub(r"<details.*?</details>", "", nav, flags=re.S))


@pytest.mark.parametrize("username", ROLES)
def test_every_link_in_the_menu_opens_for_its_role(app, username):
    auth = login_as(app, username)
    links = menu_links(auth.get("/").get_data(as_text=True))
    # Marketing staff introduce customers and have only their workbench.
    assert bool(links) is (username != "marketing"), username
    for url in links:
        # A section index may redirect to its first page; it never refuses.
        assert auth.get(url, follow_redirects=True).status_code == 200, (username, url)


def test_small_menus_stay_flat_and_large_ones_fold_into_groups(app):
    clerk = nav_of(login_as(app, "clerk").get("/").get_data(as_text=True))
    assert "<details" not in clerk
    assert {"我的待办", "现场开户", "客户", "服务记录"} <= set(link_labels(clerk))
    for username, groups in (("manager", {"工作", "客户", "系统"}), ("admin", {"工作", "客户", "分级", "系统"})):
        nav = nav_of(login_as(app, username).get("/").get_data(as_text=True))
        assert group_labels(nav) == groups, username
        # A group with one link is that link, not a menu of one.
        assert {"统计", "借阅登记"} <= set(top_level_labels(nav)), username


def test_the_witness_is_offered_witness_opening(app):
    labels = link_labels(nav_of(login_as(app, "witness").get("/").get_data(as_text=True)))
    assert "见证开户" in labels and "现场开户" not in labels


@pytest.mark.parametrize("username, shown", [("clerk", True), ("cmanager", True), ("broker", True), ("manager", True),
                                             ("archivist", False), ("marketing", False), ("witness", False)])
def test_the_header_search_box_follows_the_search_route(app, username, shown):
    html = login_as(app, username).get("/").get_data(as_text=True)
    assert ('id="customer-search"' in html) is shown
