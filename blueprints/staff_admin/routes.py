"""Staff administration (HQ): staff, 第十七条 facts, branches, grants (总部赋权); everyone's own password.

Two request hooks live here: a staff member who must change their password reaches only the change
page (and logout), and a request to a granted business is refused when the branch lacks the grant.
"""
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user, login_user

from blueprints.auth import sessions
from blueprints.auth.models import Branch
from blueprints.staff_admin import forms, services
from blueprints.staff_admin.businesses import BUSINESSES, WHOLE_BRANCH, business_of
from core import audit
from core.db import keep_refusal
from core.render import error_response, page, see_other
from core.roles import ROLE_LABELS, Role
from core.security import PUBLIC_ENDPOINTS, roles_required

bp = Blueprint("staff_admin", __name__, url_prefix="/staff-admin")

HQ = (Role.HQ_ADMIN,)
# Branch managers read their own branch's staff (who may witness, who holds which role) and review its
# grants; they change nothing else here.
READERS = (Role.HQ_ADMIN, Role.BRANCH_MANAGER)
# What a staff member who must change their password may still reach.
WHILE_MUST_CHANGE = frozenset({"staff_admin.change_password", "auth.logout"}) | PUBLIC_ENDPOINTS


@bp.before_app_request
def require_password_change():
    """Until a temporary password is replaced, every other page is refused."""
    if request.endpoint in WHILE_MUST_CHANGE or not current_user.is_authenticated:
        return None
    if not current_user.must_change_password:
        return None
    target = url_for("staff_admin.change_password")
    if request.method == "GET":
        return see_other(target) if request.htmx else redirect(target)
    return error_response(403, "请先修改密码", "请先修改初始密码，再办理其他业务")


@bp.before_app_request
def require_business_grant():
    """A business HQ has not granted to the branch (or the role in it) is refused (总部赋权)."""
    business = business_of(request.endpoint, request.view_args)
    if business is None or not current_user.is_authenticated:
        return None
    if not services.may_perform(current_user, business):
        # Answered here rather than by abort(): the error handler rolls back, and the refusal's row is kept.
        audit.record("grant.refused", "business", business, endpoint=request.endpoint)
        keep_refusal()
        return error_response(403, "无权办理", f"本营业部未获总部赋权办理“{BUSINESSES[business]}”业务，请联系总部管理员")
    return None


def _staff_or_404(staff_id: int):
    staff = services.find_staff(staff_id, current_user)
    if staff is None:
        abort(404)
    return staff


def _put_error(form, refused: services.StaffAdminRefused) -> None:
    field = getattr(form, refused.field, None) if refused.field else None
    if field is not None:
        field.errors = [*field.errors, str(refused)]
    else:
        flash(str(refused), "error")


def _version(form) -> int:
    try:
        return int(form.version.data)
    except (TypeError, ValueError):
        abort(409, services.STALE)


def _with_choices(form, branches):
    if hasattr(form, "role"):
        form.role.choices = forms.role_choices()
    if hasattr(form, "branch_id"):
        form.branch_id.choices = forms.branch_choices(branches)
    return form


# ----------------------------------------------------------------------------- staff list and detail

@bp.route("/")
@roles_required(*READERS)
def index():
    """List staff: HQ sees every branch, a branch manager their own."""
    filters = forms.StaffFilterForm(request.args)
    branches = services.branches() if current_user.role == Role.HQ_ADMIN else [current_user.branch]
    filters.branch.choices = forms.branch_choices(branches, blank="全部营业部")
    filters.role.choices = forms.role_choices(blank="全部岗位")
    filters.validate()
    staff = services.list_staff(current_user, filters.q.data, filters.branch.data, filters.role.data or None,
                                filters.enabled.data or None)
    audit.record("staff.list", "staff", None, count=len(staff), filtered=bool(request.args))
    return page("staff_admin/index.html", block="results" if request.htmx else None, filters=filters, staff=staff,
                may_edit=current_user.role == Role.HQ_ADMIN)


def _detail(staff, status=200, edit_form=None, facts_form=None, temporary_password=None):
    branches = services.branches()
    if edit_form is None:
        edit_form = forms.EditStaffForm(formdata=None, obj=staff)
        edit_form.role.data, edit_form.version.data = str(staff.role), staff.admin_version
    if facts_form is None:
        facts_form = forms.FactsForm(formdata=None, obj=staff)
        facts_form.version.data = staff.admin_version
    _with_choices(edit_form, branches)
    version_form = forms.VersionForm(formdata=None, data={"version": staff.admin_version})
    return page("staff_admin/detail.html", status=status, staff=staff, edit_form=edit_form, facts_form=facts_form,
                version_form=version_form, history=services.fact_history(staff), fact_labels=services.FACT_LABELS,
                may_edit=current_user.role == Role.HQ_ADMIN, temporary_password=temporary_password)


@bp.route("/<int:staff_id>")
@roles_required(*READERS)
def detail(staff_id: int):
    """Show one staff member: role, branch, 第十七条 facts and their history; HQ's forms to change them."""
    staff = _staff_or_404(staff_id)
    audit.record("staff.view", "staff", staff.id)
    return _detail(staff)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*HQ)
def create():
    """Create a staff member with a one-time temporary password."""
    branches = services.branches()
    form = _with_choices(forms.NewStaffForm(), branches)
    if request.method == "GET":
        return page("staff_admin/new.html", form=form)
    if form.validate():
        try:
            staff, password = services.create_staff(services.NewStaff(form.username.data, form.full_name.data,
                                                                      form.role.data, form.branch_id.data), current_user)
        except services.StaffAdminRefused as refused:
            _put_error(form, refused)
        else:
            # Shown once, on this answer only: never in a flash message (the session cookie) or a URL.
            return _detail(staff, temporary_password=password)
    return page("staff_admin/new.html", form=form, status=422)


@bp.route("/<int:staff_id>/edit", methods=["POST"])
@roles_required(*HQ)
def edit(staff_id: int):
    """Change name, role or branch; a new role or branch needs the administrator's password again."""
    staff = _staff_or_404(staff_id)
    form = _with_choices(forms.EditStaffForm(), services.branches())
    if not form.validate():
        return _detail(staff, status=422, edit_form=form)
    try:
        if services.needs_reauthentication(staff, form.role.data, form.branch_id.data):
            services.reauthenticate(current_user, form.admin_password.data)
        changed = services.update_staff(staff, _version(form), form.full_name.data, form.role.data,
                                        form.branch_id.data, current_user)
    except services.StaffAdminRefused as refused:
        if refused.status == 409:
            abort(409, str(refused))
        _put_error(form, refused)
        return _detail(staff, status=refused.status, edit_form=form)
    flash(f"已保存 {staff.full_name}（{staff.username}）" + ("，其登录会话已结束" if {"role", "branch_id"} & set(changed) else "")
          if changed else "没有任何修改", "success")
    return see_other(url_for("staff_admin.detail", staff_id=staff.id))


@bp.route("/<int:staff_id>/facts", methods=["POST"])
@roles_required(*HQ)
def facts(staff_id: int):
    """Change the 第十七条 facts (qualification, regular employment, marketing, witness training) with a reason."""
    staff = _staff_or_404(staff_id)
    form = forms.FactsForm()
    if not form.validate():
        return _detail(staff, status=422, facts_form=form)
    values = {name: getattr(form, name).data for name in services.FACT_FIELDS}
    try:
        changed = services.update_facts(staff, _version(form), values, form.reason.data, current_user)
    except services.StaffAdminRefused as refused:
        if refused.status == 409:
            abort(409, str(refused))
        _put_error(form, refused)
        return _detail(staff, status=422, facts_form=form)
    flash("已保存：" + "、".join(services.FACT_LABELS[n] for n in changed) if changed else "没有任何修改", "success")
    return see_other(url_for("staff_admin.detail", staff_id=staff.id))


@bp.route("/<int:staff_id>/<any(enable, disable):action>", methods=["POST"])
@roles_required(*HQ)
def set_enabled(staff_id: int, action: str):
    """Enable or disable a staff member; disabling ends their sessions at once."""
    staff = _staff_or_404(staff_id)
    forms.VersionForm().validate()
    try:
        changed = services.set_enabled(staff, action == "enable", current_user)
    except services.StaffAdminRefused as refused:
        abort(refused.status, str(refused))
    if changed:
        flash(f"已{'启用' if action == 'enable' else '停用'} {staff.full_name}（{staff.username}）"
              + ("，其登录会话已结束" if action == "disable" else ""), "success")
    return see_other(url_for("staff_admin.detail", staff_id=staff.id))


@bp.route("/<int:staff_id>/end-sessions", methods=["POST"])
@roles_required(*HQ)
def end_sessions(staff_id: int):
    """End every live session of a staff member (结束会话)."""
    staff = _staff_or_404(staff_id)
    services.end_staff_sessions(staff, current_user)
    flash(f"已结束 {staff.full_name}（{staff.username}）的全部登录会话", "success")
    return see_other(url_for("staff_admin.detail", staff_id=staff.id))


@bp.route("/<int:staff_id>/reset-password", methods=["POST"])
@roles_required(*HQ)
def reset_password(staff_id: int):
    """Give a new one-time temporary password, shown once; the staff member changes it at next login."""
    staff = _staff_or_404(staff_id)
    form = forms.VersionForm()
    form.validate()
    try:
        password = services.reset_password(staff, _version(form), current_user)
    except services.StaffAdminRefused as refused:
        abort(refused.status, str(refused))
    return _detail(staff, temporary_password=password)


# ----------------------------------------------------------------------------- own password

@bp.route("/password", methods=["GET", "POST"])
@roles_required(*Role)
def change_password():
    """Change one's own password (the current one again); a temporary password must be changed here first."""
    form = forms.ChangePasswordForm()
    if request.method == "GET":
        return page("staff_admin/password.html", form=form)
    if form.validate():
        staff = current_user._get_current_object()
        try:
            services.change_own_password(staff, form.current_password.data, form.new_password.data)
        except services.StaffAdminRefused as refused:
            _put_error(form, refused)
        else:
            # Every session of the old password ended, this one too: it carries on as a new one.
            sessions.start(staff)
            login_user(staff)
            flash("密码已修改，其他设备上的登录已结束", "success")
            return see_other(url_for("home.index"))
    return page("staff_admin/password.html", form=form, status=422)


# ----------------------------------------------------------------------------- branches

def _branch_or_404(branch_id: int) -> Branch:
    from core.extensions import db

    branch = db.session.get(Branch, branch_id)
    if branch is None:
        abort(404)
    return branch


def _new_branch_form(form=None):
    form = form or forms.NewBranchForm(formdata=None)
    form.businesses.choices = list(BUSINESSES.items())
    return form


def _branches_page(form=None, status=200):
    return page("staff_admin/branches.html", block="new_branch" if status != 200 else None, status=status,
                branches=services.branches(), counts=services.branch_counts(), form=_new_branch_form(form))


@bp.route("/branches")
@roles_required(*HQ)
def branches():
    """List branches with their staff and customer counts."""
    audit.record("branch.list", "branch", None)
    return _branches_page()


@bp.route("/branches/new", methods=["POST"])
@roles_required(*HQ)
def create_branch():
    """Open a branch, with the businesses HQ grants it from the start."""
    form = _new_branch_form(forms.NewBranchForm())
    if not form.validate():
        return _branches_page(form, 422)
    try:
        branch = services.create_branch(form.code.data, form.name.data, form.businesses.data or [], form.reason.data,
                                        current_user)
    except services.StaffAdminRefused as refused:
        _put_error(form, refused)
        return _branches_page(form, 422)
    flash(f"已新增营业部 {branch.code} {branch.name}", "success")
    return see_other(url_for("staff_admin.branches"))


@bp.route("/branches/<int:branch_id>", methods=["GET", "POST"])
@roles_required(*HQ)
def edit_branch(branch_id: int):
    """Change a branch's code or name."""
    branch = _branch_or_404(branch_id)
    form = forms.BranchForm() if request.method == "POST" else forms.BranchForm(obj=branch)
    if request.method == "POST":
        if form.validate():
            try:
                changed = services.update_branch(branch, form.code.data, form.name.data, current_user)
            except services.StaffAdminRefused as refused:
                _put_error(form, refused)
            else:
                flash(f"已保存营业部 {branch.code} {branch.name}" if changed else "没有任何修改", "success")
                return see_other(url_for("staff_admin.branches"))
        return page("staff_admin/branch.html", status=422, branch=branch, form=form,
                    counts=services.branch_counts().get(branch.id, {}))
    return page("staff_admin/branch.html", branch=branch, form=form, counts=services.branch_counts().get(branch.id, {}))


@bp.route("/branches/<int:branch_id>/delete", methods=["POST"])
@roles_required(*HQ)
def delete_branch(branch_id: int):
    """Delete a branch that has no staff and no customers."""
    branch = _branch_or_404(branch_id)
    label = f"{branch.code} {branch.name}"
    try:
        services.delete_branch(branch, current_user)
    except services.StaffAdminRefused as refused:
        abort(refused.status, str(refused))
    flash(f"已删除营业部 {label}", "success")
    return see_other(url_for("staff_admin.branches"))


# ----------------------------------------------------------------------------- grants (总部赋权)

def _grants_page(branch: Branch, give_form=None, status=200, withdraw_form=None, withdrawing=None):
    if give_form is None:
        give_form = forms.GiveGrantForm(formdata=None)
    give_form.business.choices = [("", "请选择业务"), *BUSINESSES.items()]
    give_form.role.choices = [(WHOLE_BRANCH, "全营业部"), *((str(r), ROLE_LABELS[r]) for r in services.GRANT_ROLES)]
    return page("staff_admin/grants.html", status=status, branch=branch, grants=services.grants_of(branch),
                history=services.grant_history(branch), businesses=BUSINESSES, give_form=give_form,
                branches=services.branches() if current_user.role == Role.HQ_ADMIN else [branch],
                is_hq=current_user.role == Role.HQ_ADMIN, whole_branch=WHOLE_BRANCH,
                withdraw_form=withdraw_form or forms.WithdrawGrantForm(formdata=None), withdrawing=withdrawing,
                review_form=forms.ReviewGrantForm(formdata=None), role_labels=ROLE_LABELS)


@bp.route("/grants")
@roles_required(*READERS)
def grants():
    """A branch's grants: HQ picks the branch, a branch manager sees their own and confirms them (复核)."""
    if current_user.role == Role.HQ_ADMIN:
        branch_id = request.args.get("branch", type=int)
        branch = _branch_or_404(branch_id) if branch_id else next(
            (b for b in services.branches() if not b.is_headquarters), current_user.branch)
    else:
        branch = current_user.branch
    audit.record("grant.list", "branch", branch.id)
    return _grants_page(branch)


@bp.route("/grants/<int:branch_id>/give", methods=["POST"])
@roles_required(*HQ)
def give_grant(branch_id: int):
    """Grant a business to the branch or to one role in it, with a reason."""
    branch = _branch_or_404(branch_id)
    form = forms.GiveGrantForm()
    form.business.choices = [("", "请选择业务"), *BUSINESSES.items()]
    form.role.choices = [(WHOLE_BRANCH, "全营业部"), *((str(r), ROLE_LABELS[r]) for r in services.GRANT_ROLES)]
    if not form.validate():
        return _grants_page(branch, form, 422)
    try:
        services.give_grant(branch, form.business.data, form.role.data, form.reason.data, current_user)
    except services.StaffAdminRefused as refused:
        _put_error(form, refused)
        return _grants_page(branch, form, 422)
    flash(f"已赋权：{BUSINESSES[form.business.data]}", "success")
    return see_other(url_for("staff_admin.grants", branch=branch.id))


def _grant_or_404(grant_id: int):
    grant = services.find_grant(grant_id)
    if grant is None or (current_user.role != Role.HQ_ADMIN and grant.branch_id != current_user.branch_id):
        abort(404)
    return grant


@bp.route("/grants/<int:grant_id>/withdraw", methods=["POST"])
@roles_required(*HQ)
def withdraw_grant(grant_id: int):
    """Withdraw a grant, with a reason."""
    grant = _grant_or_404(grant_id)
    form = forms.WithdrawGrantForm()
    if not form.validate():
        if form.version.errors:
            abort(409, "请刷新页面后重试")
        return _grants_page(_branch_or_404(grant.branch_id), status=422, withdraw_form=form, withdrawing=grant.id)
    try:
        changed = services.withdraw_grant(grant, form.version.data, form.reason.data, current_user)
    except services.StaffAdminRefused as refused:
        if refused.status != 422:
            abort(refused.status, str(refused))
        form.reason.errors = [*form.reason.errors, str(refused)]
        return _grants_page(_branch_or_404(grant.branch_id), status=422, withdraw_form=form, withdrawing=grant.id)
    if changed:
        flash(f"已撤回赋权：{BUSINESSES.get(grant.business, grant.business)}", "success")
    return see_other(url_for("staff_admin.grants", branch=grant.branch_id))


@bp.route("/grants/<int:grant_id>/review", methods=["POST"])
@roles_required(Role.BRANCH_MANAGER)
def review_grant(grant_id: int):
    """The branch manager confirms (复核) a grant as HQ set it."""
    grant = _grant_or_404(grant_id)
    form = forms.ReviewGrantForm()
    if not form.validate():
        abort(409, "请刷新页面后重试")
    try:
        changed = services.review_grant(grant, form.version.data, current_user)
    except services.StaffAdminRefused as refused:
        abort(refused.status, str(refused))
    if changed:
        flash(f"已确认赋权：{BUSINESSES.get(grant.business, grant.business)}", "success")
    return see_other(url_for("staff_admin.grants"))
