"""The header's navigation: which pages each role reaches from every screen, grouped so a tablet holds it.

A link shows when the staff member's role may open its page (the view's `roles_required`), so the
menu can never offer a page that answers 403; `only` narrows a link to the roles whose daily work it
is (a branch manager may read the archive's lending register, but it is not in their menu twice).
"""
from dataclasses import dataclass

from flask import current_app, url_for

from core.roles import Role


@dataclass(frozen=True)
class Link:
    label: str
    endpoint: str
    only: frozenset | None = None
    # A different label for some roles ("见证开户" for witness staff).
    labels: tuple = ()

    def label_for(self, role: str) -> str:
        return dict(self.labels).get(role, self.label)


@dataclass(frozen=True)
class Group:
    label: str
    links: tuple


def _only(*roles: Role) -> frozenset:
    return frozenset(roles)


MANAGERS = (Role.BRANCH_MANAGER, Role.HQ_ADMIN)

MENU = (
    Group("工作", (
        Link("我的待办", "opening.index", _only(Role.CLERK, Role.WITNESS)),
        Link("现场开户", "opening.new", _only(Role.CLERK, Role.WITNESS), labels=((Role.WITNESS, "见证开户"),)),
        Link("复核队列", "review.queue", _only(Role.REVIEWER)),
        Link("回访队列", "return_visit.queue", _only(Role.RETURN_VISIT)),
        Link("异常处理", "exceptions.index", _only(*MANAGERS)),
        Link("回访未通过", "return_visit.escalated", _only(*MANAGERS)),
        Link("资料变更", "changes.index", _only(*MANAGERS)),
    )),
    Group("客户", (
        Link("客户", "customers.index"),
        Link("客户经理", "managers.index", labels=((Role.CUSTOMER_MANAGER, "我的客户"), (Role.BROKER, "我的客户"))),
        Link("服务记录", "service.index"),
        Link("疑似重复", "search.duplicate_list", _only(*MANAGERS)),
        Link("客户合并", "merges.index", _only(*MANAGERS, Role.REVIEWER)),
    )),
    Group("档案", (
        Link("档案查询", "archive.index", _only(Role.ARCHIVIST)),
        Link("批量导出", "archive.exports", _only(Role.ARCHIVIST)),
        Link("借阅登记", "archive.lending_register", _only(Role.ARCHIVIST, *MANAGERS)),
    )),
    Group("统计", (Link("统计", "statistics.dashboard", _only(*MANAGERS)),)),
    Group("分级", (
        Link("持仓导入", "grading.import_index", _only(*MANAGERS)),
        Link("分级规则", "grading.rules_index", _only(Role.HQ_ADMIN)),
        Link("产品", "products.index", _only(Role.HQ_ADMIN)),
    )),
    Group("系统", (
        Link("读卡器", "reader.devices", _only(Role.HQ_ADMIN)),
        Link("数据字典", "dictionaries.index", _only(Role.HQ_ADMIN)),
        Link("用户与赋权", "staff_admin.index", _only(Role.HQ_ADMIN)),
        Link("总部赋权", "staff_admin.grants", _only(Role.BRANCH_MANAGER)),
        Link("审计日志", "audit_trail.index", _only(*MANAGERS)),
    )),
)

# Up to this many links show side by side; more fold into one menu per group.
FLAT_LIMIT = 5


def may_open(role: str, endpoint: str) -> bool:
    """Whether the view behind `endpoint` admits `role` (its `roles_required`)."""
    allowed = getattr(current_app.view_functions.get(endpoint), "allowed_roles", None)
    return allowed is not None and role in allowed


def _may_open(role: str, link: Link) -> bool:
    return may_open(role, link.endpoint) and (link.only is None or role in link.only)


def menu_for(role: str) -> list[dict]:
    """The role's menu: groups of (label, url) links, each group with at least one link."""
    groups = []
    for group in MENU:
        links = [{"label": link.label_for(role), "url": url_for(link.endpoint), "endpoint": link.endpoint}
                 for link in group.links if _may_open(role, link)]
        if links:
            groups.append({"label": group.label, "links": links})
    return groups


def nav_for(role: str) -> dict:
    """What the header draws: `flat` links when there are few, otherwise the groups (a one-link group stays a link)."""
    groups = menu_for(role)
    flat = [link for group in groups for link in group["links"]]
    return {"flat": flat if len(flat) <= FLAT_LIMIT else None, "groups": groups,
            "search_box": may_open(role, "search.suggest")}
