"""The businesses HQ grants to branches (总部赋权) and which endpoints belong to each: one table, no Flask.

A request to an endpoint listed here is allowed only when the staff member's branch, or their role in
it, holds the business's grant (blueprints/staff_admin/services.py::may_perform). Endpoints not listed
are not a business of their own (the customer page, statistics, the home page).
"""
BUSINESSES = {
    "opening": "现场开户",
    "witness_opening": "见证开户",
    "review": "开户复核",
    "return_visit": "回访",
    "changes": "资料变更",
    "closure": "销户",
    "archive": "档案借阅",
    "service": "客户服务与投诉",
    "managers": "客户经理分配与移交",
    "merges": "客户合并",
    "prospects": "潜在客户",
}

# A grant to the whole branch rather than one role in it.
WHOLE_BRANCH = "*"

# (endpoint or endpoint prefix ending in "."), the view argument that narrows it (or None), business.
# The first entry that matches decides; the witness step is 见证开户 although it sits in the wizard.
ENDPOINT_BUSINESSES = (
    ("opening.step", {"key": "witness"}, "witness_opening"),
    ("opening.", None, "opening"),
    ("review.", None, "review"),
    ("return_visit.", None, "return_visit"),
    ("changes.", None, "changes"),
    ("closure.", None, "closure"),
    ("archive.", None, "archive"),
    ("service.", None, "service"),
    ("managers.", None, "managers"),
    ("merges.", None, "merges"),
    ("prospects.", None, "prospects"),
)


def business_of(endpoint: str | None, view_args: dict | None = None) -> str | None:
    """The business a request to `endpoint` performs, or None when it is not one HQ grants."""
    if not endpoint:
        return None
    view_args = view_args or {}
    for pattern, narrowed, business in ENDPOINT_BUSINESSES:
        matches = endpoint.startswith(pattern) if pattern.endswith(".") else endpoint == pattern
        if matches and all(view_args.get(name) == value for name, value in (narrowed or {}).items()):
            return business
    return None
