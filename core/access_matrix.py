"""The access matrix: every endpoint × role, allowed or not, with the endpoint's branch rule.

The roles come from each view's `roles_required` declaration; the branch rule (which objects of which
branch the endpoint reaches) is declared here, one entry per endpoint, and reviewed by a person.
`flask --app app access-matrix` writes docs/access-matrix.md from the URL map; a test regenerates it and
fails when the committed file differs or when an endpoint has no branch rule, so a new route cannot go
in without an entry someone has read.
"""
import enum
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from core.roles import ROLE_LABELS, Role
from core.security import PUBLIC_ENDPOINTS, declared_roles

MATRIX_PATH = Path(__file__).resolve().parents[1] / "docs" / "access-matrix.md"


class BranchRule(enum.StrEnum):
    """Which branch's (and whose) objects an endpoint reaches."""

    PUBLIC = "public"  # no login: the login page, static files, the health probe, the reader API (signed)
    NONE = "none"  # not branch-scoped: firm-wide settings (HQ only) or the user's own session
    BRANCH = "branch"  # objects and lists of the user's own branch; HQ all branches
    CUSTOMERS = "customers"  # as branch, and customer managers / brokers only the customers assigned to them
    OWN = "own"  # the user's own object (a saved filter, a notice addressed to them, an export they asked for); HQ all


RULE_TEXT = {
    BranchRule.PUBLIC: "no login (the reader API checks the device's signature)",
    BranchRule.NONE: "not branch-scoped: firm-wide settings for HQ, or the user's own session",
    BranchRule.BRANCH: "own branch only; HQ sees every branch",
    BranchRule.CUSTOMERS: "own branch only, HQ every branch; customer managers and brokers only their own customers",
    BranchRule.OWN: "the user's own object only (HQ: every one where the view says so)",
}

P, N, B, C, O = BranchRule.PUBLIC, BranchRule.NONE, BranchRule.BRANCH, BranchRule.CUSTOMERS, BranchRule.OWN

# One entry per endpoint. A route without one fails the matrix test.
BRANCH_RULES: dict[str, BranchRule] = {
    # login and the home page
    "auth.login": P, "static": P, "home.health": P, "reader.post_read": P,
    "auth.logout": N,
    "home.index": B, "home.queue": B,
    # account opening, review, return visit
    "opening.index": B, "opening.new": B, "opening.resume": B, "opening.detail": B, "opening.step": B,
    "opening.step_file": B, "opening.card_read": B, "opening.submitted": B, "opening.withdraw": B,
    "opening.resupply": B,
    "review.queue": B, "review.review": B, "review.approve": B, "review.reject": B, "review.take": B,
    "review.release": B, "review.same_terminal": B, "review.same_terminal_decide": B, "review.witness_image": B,
    "review.accounts_progress": B, "review.decide_document": B, "review.document_file": B,
    "return_visit.queue": B, "return_visit.visit": B, "return_visit.reveal_mobile": B, "return_visit.recording": B,
    "return_visit.escalated": B, "return_visit.escalated_case": B, "return_visit.send_back": B,
    # card readers: each device is paired with a branch by HQ, who sees and revokes every branch's; the
    # terminal pairs with a reader of its own branch
    "reader.terminal": B, "reader.unpair_terminal": B,
    "reader.devices": B, "reader.revoke": B, "reader.unpair_device": B,
    # staff administration: HQ administers every branch's staff and grants, a branch manager reads their
    # own branch's staff and reviews its grants; branches are firm-wide; one's own password is one's own
    "staff_admin.index": B, "staff_admin.detail": B, "staff_admin.create": B, "staff_admin.edit": B,
    "staff_admin.facts": B, "staff_admin.set_enabled": B, "staff_admin.end_sessions": B,
    "staff_admin.reset_password": B, "staff_admin.change_password": N,
    "staff_admin.branches": N, "staff_admin.create_branch": N, "staff_admin.edit_branch": N,
    "staff_admin.delete_branch": N,
    "staff_admin.grants": B, "staff_admin.give_grant": B, "staff_admin.withdraw_grant": B,
    "staff_admin.review_grant": B,
    # customers, their list, search and duplicates
    "customers.reveal_value": C,
    "customers.index": C, "customers.detail": C, "customers.merged_record": C, "customers.export_list": C,
    "customers.save_filter": O, "customers.delete_filter": O,
    "search.results": C, "search.suggest": C, "search.duplicate_list": B, "search.review_duplicate": B,
    "merges.index": B, "merges.detail": B, "merges.decide": B, "merges.withdraw": B, "merges.new": B,
    "prospects.new": B, "prospects.edit": B,
    # changes, closure, reactivation
    "changes.index": B, "changes.detail": B, "changes.certificate": B, "changes.progress": B, "changes.decide": B,
    "changes.upload_signed_slip": B, "changes.signed_slip": B, "changes.slip": B, "changes.retry_slip": B,
    "changes.withdraw": B, "changes.key": B, "changes.key_card": B, "changes.links": B, "changes.ordinary": B,
    "closure.business": B, "closure.resubmit": B, "closure.review": B, "closure.steps": B, "closure.withdraw": B,
    "closure.customer": B, "closure.reactivate": B, "closure.start": B, "closure.reactivation": B,
    "closure.reactivation_review": B, "closure.reactivation_withdraw": B,
    # requests to external systems that were refused or keep failing
    "exceptions.index": B, "exceptions.detail": B, "exceptions.cancel": B, "exceptions.resend": B,
    "exceptions.retry": B, "exceptions.status": B,
    # archive
    "archive.index": B, "archive.customer_file": B, "archive.generate_dossier": B, "archive.dossier_versions": B,
    "archive.upload_scan": B, "archive.download_dossier": B, "archive.exports": B, "archive.export_status": O,
    "archive.download_export": O, "archive.lending_register": B, "archive.view_scan": B,
    "archive.place_hold": B, "archive.lift_hold": B,
    # the audit trail: a branch manager reads their branch's staff's entries, HQ every branch's
    "audit_trail.index": B,
    "jobs.status": B,
    # customer managers, handovers, service records
    "managers.index": C, "managers.assign": C, "managers.handovers": C, "managers.handover": C,
    "managers.decide": C, "managers.withdraw": C, "managers.new_handover": C,
    "service.index": C, "service.detail": C, "service.assign": C, "service.close": C, "service.extend": C,
    "service.upload": C, "service.download": C, "service.follow_up": C, "service.reassign": C, "service.new": C,
    "reminders.listing": C, "reminders.refresh": C,
    # grading, products, statistics, dictionaries
    "grading.import_index": B, "grading.import_status": B, "grading.import_errors": B,
    "grading.notification_read": O,
    "grading.recompute_all": N, "grading.recompute_customer": B, "grading.rules_index": N, "grading.rule_edit": N,
    "grading.rule_new": N,
    "products.index": N, "products.edit": N, "products.new": N, "products.insist": B, "products.recommend": B,
    "products.acknowledgement": B,
    "statistics.dashboard": B, "statistics.export_figure": B, "statistics.export_all": B,
    "dictionaries.index": N, "dictionaries.listing": N, "dictionaries.create": N, "dictionaries.edit": N,
}


@dataclass(frozen=True)
class Entry:
    """One row of the matrix: a URL rule and who reaches it."""

    path: str
    methods: tuple[str, ...]
    endpoint: str
    roles: frozenset | None  # None: the view declares none (refused to everybody but public endpoints)
    branch_rule: BranchRule | None  # None: the endpoint has no entry in BRANCH_RULES

    @property
    def public(self) -> bool:
        return self.endpoint in PUBLIC_ENDPOINTS


def entries(app: Flask) -> list[Entry]:
    """Every URL rule of `app`, in path order."""
    rows = []
    for rule in app.url_map.iter_rules():
        methods = tuple(sorted(rule.methods - {"HEAD", "OPTIONS"}))
        rows.append(Entry(rule.rule, methods, rule.endpoint, declared_roles(app.view_functions[rule.endpoint]),
                          BRANCH_RULES.get(rule.endpoint)))
    return sorted(rows, key=lambda e: (e.path, e.methods))


def problems(app: Flask) -> list[str]:
    """What keeps the matrix from being complete: endpoints without roles or without a branch rule."""
    found = []
    for entry in entries(app):
        if entry.branch_rule is None:
            found.append(f"{entry.endpoint} ({entry.path}) has no branch rule in core/access_matrix.py BRANCH_RULES")
        if entry.roles is None and not entry.public:
            found.append(f"{entry.endpoint} ({entry.path}) declares no roles (roles_required): it is refused to all")
    endpoints = {entry.endpoint for entry in entries(app)}
    found += [f"BRANCH_RULES names {name}, which no route has" for name in sorted(set(BRANCH_RULES) - endpoints)]
    return found


def _cell(entry: Entry, role: Role) -> str:
    if entry.public:
        return "open"
    return "✓" if entry.roles and role in entry.roles else "·"


def render(app: Flask) -> str:
    """The matrix as Markdown."""
    roles = list(Role)
    lines = [
        "# Access matrix (route × role × branch)",
        "",
        "Generated from the URL map by `flask --app app access-matrix`; do not edit by hand.",
        "The roles are each view's `roles_required`; the branch rule is `BRANCH_RULES` in `core/access_matrix.py`.",
        "A view that declares no roles is refused (403) to everybody. `tests/security/test_access_matrix.py`",
        "fails when this file is out of date and requests every cell, with objects of the user's own branch",
        "and of another.",
        "",
        "Branch rules:",
        "",
    ]
    lines += [f"- `{rule}`: {RULE_TEXT[rule]}" for rule in BranchRule]
    lines += ["", "Roles: " + ", ".join(f"`{role}` {ROLE_LABELS[role]}" for role in roles), ""]
    lines.append("| path | methods | endpoint | branch rule | " + " | ".join(str(role) for role in roles) + " |")
    lines.append("|---|---|---|---|" + "---|" * len(roles))
    for entry in entries(app):
        rule = str(entry.branch_rule) if entry.branch_rule else "**missing**"
        cells = " | ".join(_cell(entry, role) for role in roles)
        path = entry.path.replace("|", "\\|")
        lines.append(f"| `{path}` | {' '.join(entry.methods)} | `{entry.endpoint}` | {rule} | {cells} |")
    return "\n".join(lines) + "\n"


@click.command("access-matrix")
@click.option("--check", is_flag=True, help="Only compare with the committed file; exit 1 when it differs.")
@with_appcontext
def access_matrix_command(check: bool):
    """Write docs/access-matrix.md from the URL map (route × role × branch rule)."""
    text = render(current_app)
    for problem in problems(current_app):
        click.echo(f"incomplete: {problem}", err=True)
    if check:
        current = MATRIX_PATH.read_text("utf-8") if MATRIX_PATH.exists() else ""
        if current != text:
            raise click.ClickException(f"{MATRIX_PATH.name} is out of date: run flask --app app access-matrix")
        click.echo(f"{MATRIX_PATH.name} is up to date")
        return
    MATRIX_PATH.write_text(text, "utf-8")
    click.echo(f"wrote {MATRIX_PATH.name}: {len(entries(current_app))} routes")
