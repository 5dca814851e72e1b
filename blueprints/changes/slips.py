"""Confirmation slips (确认单) printed after a change of customer information is approved.

The customer signs the printed slip; the signed scan is archived with the PDF,
which carries the slip data as slip.json. No Flask, no database: the caller
hands over values already formatted and masked.
"""
from __future__ import annotations

import datetime as dt
import functools

from core import files
from core.pdf import pool, renderer
from core.timeutil import BEIJING

TEMPLATE = "changes/slip.html"

ORDINARY_TITLE = "客户普通资料修改确认单"
KEY_TITLE = "客户关键信息变更确认单"

# Business name (业务名称) printed under the title of a key-information slip.
KEY_BUSINESS_NAMES = {
    "key": "关键信息变更",
    "renewal": "证件有效期更新",
    "upgrade": "身份证号码升位",
    "link_confirmation": "关联关系确认",
}
KINDS = frozenset({"ordinary", *KEY_BUSINESS_NAMES})

EMPTY_VALUE = "（空）"
SIMULATED_NOTE = "（含模拟系统应答，非真实报送）"

# What the customer signs (客户声明).
DECLARATION = (
    "本人确认以上信息真实、准确、完整，并已知晓上述信息变更将用于本人在贵公司开立的全部账户"
    "及所选同步的系统；因本人提供的信息不真实、不准确、不完整所产生的一切后果由本人承担。"
)


def slip_title(kind: str) -> tuple[str, str | None]:
    """Return the slip's title and, for key information, the business name printed under it."""
    if kind not in KINDS:
        raise ValueError(f"unknown change slip kind: {kind!r}")
    if kind == "ordinary":
        return ORDINARY_TITLE, None
    return KEY_TITLE, KEY_BUSINESS_NAMES[kind]


def beijing_minute(moment: dt.datetime) -> str:
    """Format an aware moment as the slip prints it: 2026年12月02日 14:05 (Beijing time)."""
    if moment.tzinfo is None:
        raise ValueError("decided_at must be timezone-aware")
    return moment.astimezone(BEIJING).strftime("%Y年%m月%d日 %H:%M")


def _shown(value) -> str:
    # A blank cell on a signed form reads as "not filled in"; say that the field is empty.
    return EMPTY_VALUE if value is None or value == "" else str(value)


def slip_context(slip: dict) -> dict:
    """Turn the slip data (see render_change_slip) into the template's context."""
    title, business_name = slip_title(slip["kind"])
    return {
        "title": title,
        "business_name": business_name,
        "reference": slip["reference"],
        "firm_name": slip["firm_name"],
        "branch_name": slip["branch_name"],
        "decided_at": beijing_minute(slip["decided_at"]),
        "customer": slip["customer"],
        # Institutions sign with the company seal, the legal representative's seal and the agent's signature.
        "institution": slip["customer"].get("customer_type") == "institution",
        "changes": [{"label": change["label"], "before": _shown(change["before"]), "after": _shown(change["after"])}
                    for change in slip["changes"]],
        "systems": [{"label": system["label"], "state": system["state"]} for system in slip["systems"]],
        "clerk_name": slip["clerk_name"],
        "reviewer_name": slip["reviewer_name"],
        "simulated_note": SIMULATED_NOTE if slip["simulated"] else None,
        "declaration": DECLARATION,
    }


@functools.cache
def _template_env():
    return renderer.template_environment()


def render_change_slip_html(slip: dict) -> str:
    """Render the slip's HTML (self-contained: styles inline, no external resource)."""
    return _template_env().get_template(TEMPLATE).render(**slip_context(slip))


def render_change_slip(slip: dict) -> bytes:
    """Render the confirmation slip of an approved change to PDF/A-3b, the slip data attached.

    slip: {kind: "ordinary" | "key" | "renewal" | "upgrade" | "link_confirmation",
    reference, firm_name, branch_name, decided_at (aware), customer: {customer_no,
    name, id_type_label, id_number_masked}, changes: [{label, before, after}],
    systems: [{label, state}], clerk_name, reviewer_name, simulated}. Values are
    printed as given (None or "" as （空）). Raises renderer.DossierUnavailable when
    this machine cannot print PDFs.
    """
    return pool.render(render_request(slip))


def render_request(slip: dict) -> pool.RenderRequest:
    """The slip as a render for the render pool: self-contained HTML, the slip data attached."""
    title, _ = slip_title(slip["kind"])
    attachment = renderer.record_attachment(slip, name="slip.json", description="确认单数据（机器可读）")
    return pool.RenderRequest(html=render_change_slip_html(slip), base_url=f"{files.URL_SCHEME}:", attachments=[attachment],
                              title=f"{title} {slip['reference']}", author=f"{slip['firm_name']} {slip['branch_name']}",
                              created=slip["decided_at"])
