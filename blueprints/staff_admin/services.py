"""Staff administration operations: staff, their 第十七条 facts, passwords, branches and HQ's grants.

Operations only flush; the request commits. A refusal raises StaffAdminRefused with the form field its
message belongs to (or none) and the status to answer with.
"""
import re
import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from blueprints.auth.models import Branch, Staff
from blueprints.auth.services import end_sessions, hash_password, verify_credentials
from blueprints.staff_admin.businesses import BUSINESSES, WHOLE_BRANCH
from blueprints.staff_admin.models import BusinessGrant, BusinessGrantChange, StaffFactChange
from core import audit, passwords
from core.extensions import db
from core.roles import Role
from core.timeutil import business_today, utcnow

USERNAME = re.compile(r"[A-Za-z0-9_.-]{2,32}")
BRANCH_CODE = re.compile(r"[0-9]{4}")
# Letters and digits that cannot be misread when a temporary password is read out or copied by hand.
TEMPORARY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"
TEMPORARY_LENGTH = 14
# Roles a grant may be limited to (HQ administrators need no branch grant).
GRANT_ROLES = tuple(role for role in Role if role != Role.HQ_ADMIN)
STALE = "该用户刚被其他操作修改，请刷新页面后重试（本次未保存）"


class StaffAdminRefused(Exception):
    """The change cannot be made; `field` names the form field the message goes next to."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


# --------------------------------------------------------------------------- reading

def visible_staff(viewer: Staff):
    """The staff a viewer may see: all for HQ administrators, their own branch for a branch manager."""
    query = select(Staff)
    if viewer.role != Role.HQ_ADMIN:
        query = query.where(Staff.branch_id == viewer.branch_id)
    return query


def list_staff(viewer: Staff, text: str | None = None, branch_id: int | None = None, role: str | None = None,
               enabled: str | None = None) -> list[Staff]:
    query = visible_staff(viewer)
    if text:
        like = f"%{text.strip().lower()}%"
        query = query.where(or_(func.lower(Staff.username).like(like), Staff.full_name.like(f"%{text.strip()}%")))
    if branch_id:
        query = query.where(Staff.branch_id == branch_id)
    if role:
        query = query.where(Staff.role == role)
    if enabled in ("1", "0"):
        query = query.where(Staff.is_enabled.is_(enabled == "1"))
    return list(db.session.scalars(query.order_by(Staff.branch_id, Staff.username).limit(500)))


def find_staff(staff_id: int, viewer: Staff) -> Staff | None:
    return db.session.scalar(visible_staff(viewer).where(Staff.id == staff_id))


def branches() -> list[Branch]:
    return list(db.session.scalars(select(Branch).order_by(Branch.code)))


def fact_history(staff: Staff) -> list[StaffFactChange]:
    return list(db.session.scalars(select(StaffFactChange).where(StaffFactChange.staff_id == staff.id)
                                   .order_by(StaffFactChange.id.desc())))


# --------------------------------------------------------------------------- staff

def temporary_password() -> str:
    """A random one-time password that passes the rules (shown once, changed at first login)."""
    while True:
        candidate = "".join(secrets.choice(TEMPORARY_ALPHABET) for _ in range(TEMPORARY_LENGTH))
        if passwords.acceptable(candidate):
            return candidate


def _branch(branch_id: int) -> Branch:
    branch = db.session.get(Branch, branch_id)
    if branch is None:
        raise StaffAdminRefused("请选择营业部", "branch_id")
    return branch


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise StaffAdminRefused("请选择岗位", "role") from None


def _bump(staff: Staff, version: int) -> None:
    """Take the staff row at `version`, or refuse: a second submit of the same form, or another's change."""
    result = db.session.execute(update(Staff).where(Staff.id == staff.id, Staff.admin_version == version)
                                .values(admin_version=Staff.admin_version + 1).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise StaffAdminRefused(STALE, status=409)
    db.session.refresh(staff)


@dataclass(frozen=True)
class NewStaff:
    username: str
    full_name: str
    role: str
    branch_id: int


def create_staff(values: NewStaff, actor: Staff) -> tuple[Staff, str]:
    """Create a staff member with a temporary password to change at first login; return both."""
    username = (values.username or "").strip()
    if not USERNAME.fullmatch(username):
        raise StaffAdminRefused("用户名为2–32位字母、数字、点、下划线或连字符", "username")
    if db.session.scalar(select(Staff.id).where(func.lower(Staff.username) == username.lower())):
        raise StaffAdminRefused(f"用户名 {username} 已被使用（含已停用的用户）", "username")
    role, branch = _role(values.role), _branch(values.branch_id)
    if role == Role.HQ_ADMIN and not branch.is_headquarters:
        raise StaffAdminRefused("总部管理员只能属于总部", "branch_id")
    password = temporary_password()
    staff = Staff(username=username, full_name=values.full_name.strip(), role=role, branch_id=branch.id,
                  password_hash=hash_password(password), must_change_password=True, is_regular_employee=False)
    try:
        with db.session.begin_nested():
            db.session.add(staff)
    except IntegrityError:
        raise StaffAdminRefused(f"用户名 {username} 已被使用", "username") from None
    audit.record("staff.create", "staff", staff.id, fields=["username", "full_name", "role", "branch_id"],
                 role=str(role), branch_id=branch.id)
    return staff, password


def needs_reauthentication(staff: Staff, role: str, branch_id: int) -> bool:
    """A change of role or branch needs the administrator's own password again (ASVS 6.x re-authentication)."""
    return role != staff.role or branch_id != staff.branch_id


def reauthenticate(actor: Staff, password: str | None) -> None:
    """Check the acting administrator's own password for a sensitive change (counts toward lockout)."""
    if not password:
        raise StaffAdminRefused("修改岗位或营业部须再次输入您本人的登录密码", "admin_password")
    result = verify_credentials(actor.username, password, purpose="staff_role_change")
    if result.staff is None or result.staff.id != actor.id:
        raise StaffAdminRefused(result.error or "密码错误", "admin_password")


def _enabled_hq_admins() -> int:
    return db.session.scalar(select(func.count()).select_from(Staff)
                             .where(Staff.role == Role.HQ_ADMIN, Staff.is_enabled.is_(True)))


def update_staff(staff: Staff, version: int, full_name: str, role: str, branch_id: int, actor: Staff) -> list[str]:
    """Change name, role or branch; a new role or branch ends the staff member's sessions. Return the fields changed."""
    new_role, branch = _role(role), _branch(branch_id)
    before = {"full_name": staff.full_name, "role": str(staff.role), "branch_id": staff.branch_id}
    after = {"full_name": full_name.strip(), "role": str(new_role), "branch_id": branch.id}
    changed = [name for name in before if before[name] != after[name]]
    if not changed:
        return []
    if staff.id == actor.id and ("role" in changed or "branch_id" in changed):
        raise StaffAdminRefused("不能修改自己的岗位或营业部，请由另一位总部管理员办理", "role", status=403)
    if new_role == Role.HQ_ADMIN and not branch.is_headquarters:
        raise StaffAdminRefused("总部管理员只能属于总部", "branch_id")
    if staff.role == Role.HQ_ADMIN and new_role != Role.HQ_ADMIN and staff.is_enabled and _enabled_hq_admins() <= 1:
        raise StaffAdminRefused("这是唯一在用的总部管理员，不能改为其他岗位", "role")
    _bump(staff, version)
    staff.full_name, staff.role, staff.branch_id = after["full_name"], new_role, branch.id
    db.session.flush()
    db.session.expire(staff, ["branch"])
    audit.record("staff.update", "staff", staff.id, fields=changed,
                 **({"role": [before["role"], after["role"]]} if "role" in changed else {}),
                 **({"branch_id": [before["branch_id"], after["branch_id"]]} if "branch_id" in changed else {}))
    if "role" in changed or "branch_id" in changed:
        end_sessions(staff, "role_change" if "role" in changed else "branch_change")
    return changed


def set_enabled(staff: Staff, enabled: bool, actor: Staff) -> bool:
    """Enable or disable a staff member (disabling ends their sessions); False when it already was so."""
    if staff.is_enabled == enabled:
        return False
    if not enabled and staff.id == actor.id:
        raise StaffAdminRefused("不能停用自己", status=403)
    if not enabled and staff.role == Role.HQ_ADMIN and _enabled_hq_admins() <= 1:
        raise StaffAdminRefused("这是唯一在用的总部管理员，不能停用", status=403)
    result = db.session.execute(update(Staff).where(Staff.id == staff.id, Staff.is_enabled.is_(not enabled))
                                .values(is_enabled=enabled, admin_version=Staff.admin_version + 1)
                                .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False  # the same click arrived twice: the first did it
    db.session.refresh(staff)
    audit.record("staff.enable" if enabled else "staff.disable", "staff", staff.id, fields=["is_enabled"])
    if not enabled:
        end_sessions(staff, "disabled")
    return True


def end_staff_sessions(staff: Staff, actor: Staff) -> None:
    """End every live session of a staff member now (结束会话)."""
    end_sessions(staff, "ended_by_admin")


def reset_password(staff: Staff, version: int, actor: Staff) -> str:
    """Give a new temporary password (shown once), to change at next login; ends their sessions."""
    if staff.id == actor.id:
        raise StaffAdminRefused("不能重置自己的密码，请在“修改密码”中修改", status=403)
    _bump(staff, version)
    password = temporary_password()
    staff.password_hash = hash_password(password)
    staff.must_change_password = True
    staff.failed_logins, staff.locked_until = 0, None
    audit.record("staff.password_reset", "staff", staff.id, fields=["password_hash", "must_change_password"])
    end_sessions(staff, "password_reset")
    return password


# --------------------------------------------------------------------------- 第十七条 facts

FACT_FIELDS = ("qualification_no", "qualification_obtained_on", "is_regular_employee", "regular_employee_since",
               "is_marketing", "witness_trained_on")
FACT_LABELS = {
    "qualification_no": "证券从业资格编号",
    "qualification_obtained_on": "取得从业资格日期",
    "is_regular_employee": "正式员工",
    "regular_employee_since": "成为正式员工日期",
    "is_marketing": "营销人员",
    "witness_trained_on": "见证培训合格日期",
}


def _text(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def fact_problems(values: dict, staff: Staff, today: date) -> dict[str, str]:
    """Messages by field for 第十七条 facts that do not hold together; empty when they do."""
    errors = {}
    for name in ("qualification_obtained_on", "regular_employee_since", "witness_trained_on"):
        if values.get(name) and values[name] > today:
            errors[name] = "日期不能晚于今天"
    number = (values.get("qualification_no") or "").strip()
    if number and not re.fullmatch(r"[A-Za-z0-9]{4,32}", number):
        errors["qualification_no"] = "从业资格编号为4–32位字母或数字"
    if number and number != (staff.qualification_no or "") and not values.get("qualification_obtained_on"):
        errors.setdefault("qualification_obtained_on", "登记从业资格时须填写取得日期")
    if values.get("qualification_obtained_on") and not number:
        errors.setdefault("qualification_no", "填写了取得日期，请同时填写从业资格编号")
    if values.get("is_regular_employee") and not staff.is_regular_employee and not values.get("regular_employee_since"):
        errors.setdefault("regular_employee_since", "登记为正式员工时须填写成为正式员工的日期")
    if not values.get("is_regular_employee") and values.get("regular_employee_since"):
        errors.setdefault("regular_employee_since", "不是正式员工时不应填写此日期")
    return errors


def update_facts(staff: Staff, version: int, values: dict, reason: str, actor: Staff) -> list[str]:
    """Change 第十七条 facts with a reason: a history row per field, one audit row naming the fields."""
    reason = (reason or "").strip()
    if not reason:
        raise StaffAdminRefused("请填写修改原因", "reason")
    values = dict(values, qualification_no=(values.get("qualification_no") or "").strip() or None)
    errors = fact_problems(values, staff, business_today())
    if errors:
        field, message = next(iter(errors.items()))
        raise StaffAdminRefused(message, field)
    changed = [name for name in FACT_FIELDS if _text(getattr(staff, name)) != _text(values.get(name))]
    if not changed:
        return []
    _bump(staff, version)
    now = utcnow()
    for name in changed:
        db.session.add(StaffFactChange(staff_id=staff.id, field=name, old_value=_text(getattr(staff, name)),
                                       new_value=_text(values.get(name)), reason=reason, changed_by_id=actor.id,
                                       changed_at=now))
        setattr(staff, name, values.get(name))
    db.session.flush()
    audit.record("staff.facts_update", "staff", staff.id, fields=changed)
    return changed


# --------------------------------------------------------------------------- own password

def change_own_password(staff: Staff, current: str, new: str) -> None:
    """Change one's own password: the current one again, the rules; other sessions end."""
    result = verify_credentials(staff.username, current or "", purpose="password_change")
    if result.staff is None or result.staff.id != staff.id:
        raise StaffAdminRefused(result.error or "当前密码错误", "current_password")
    found = passwords.problems(new, staff.username)
    if found:
        raise StaffAdminRefused("；".join(found), "new_password")
    if new == current:
        raise StaffAdminRefused("新密码不能与当前密码相同", "new_password")
    staff.password_hash = hash_password(new)
    staff.must_change_password = False
    staff.password_changed_at = utcnow()
    staff.admin_version += 1
    audit.record("staff.password_changed", "staff", staff.id, fields=["password_hash"])
    end_sessions(staff, "password_change")


def create_first_admin(username: str, full_name: str, password: str) -> Staff:
    """The first HQ administrator, from the command line (no built-in account outside the demo)."""
    username = (username or "").strip()
    if not USERNAME.fullmatch(username):
        raise StaffAdminRefused("用户名为2–32位字母、数字、点、下划线或连字符", "username")
    if db.session.scalar(select(Staff.id).where(func.lower(Staff.username) == username.lower())):
        raise StaffAdminRefused(f"用户名 {username} 已被使用", "username")
    found = passwords.problems(password, username)
    if found:
        raise StaffAdminRefused("；".join(found), "password")
    headquarters = db.session.scalar(select(Branch).where(Branch.is_headquarters.is_(True)).order_by(Branch.id))
    if headquarters is None:
        headquarters = Branch(code="0000", name="总部", is_headquarters=True)
        db.session.add(headquarters)
        db.session.flush()
    staff = Staff(username=username, full_name=(full_name or username).strip(), role=Role.HQ_ADMIN,
                  branch_id=headquarters.id, password_hash=hash_password(password), password_changed_at=utcnow())
    db.session.add(staff)
    db.session.flush()
    audit.record("staff.create_admin", "staff", staff.id, actor_name="(command line)", fields=["username", "role"])
    return staff


# --------------------------------------------------------------------------- branches

def branch_counts() -> dict[int, dict[str, int]]:
    """Staff and customers per branch (a branch with either cannot be deleted)."""
    from blueprints.customers.models import Customer

    staff = dict(db.session.execute(select(Staff.branch_id, func.count()).group_by(Staff.branch_id)).all())
    customers = dict(db.session.execute(select(Customer.branch_id, func.count()).group_by(Customer.branch_id)).all())
    return {b.id: {"staff": staff.get(b.id, 0), "customers": customers.get(b.id, 0)} for b in branches()}


def _branch_values(code: str, name: str, branch: Branch | None = None) -> tuple[str, str]:
    code, name = (code or "").strip(), (name or "").strip()
    if not BRANCH_CODE.fullmatch(code):
        raise StaffAdminRefused("营业部代码为4位数字", "code")
    if not name:
        raise StaffAdminRefused("请填写营业部名称", "name")
    taken = db.session.scalar(select(Branch.id).where(Branch.code == code))
    if taken and (branch is None or taken != branch.id):
        raise StaffAdminRefused(f"营业部代码 {code} 已被使用", "code")
    return code, name


def create_branch(code: str, name: str, businesses: list[str], reason: str, actor: Staff) -> Branch:
    """Open a branch and give it the businesses chosen (none unless chosen: grants are HQ's to give)."""
    code, name = _branch_values(code, name)
    branch = Branch(code=code, name=name, is_headquarters=False)
    try:
        with db.session.begin_nested():
            db.session.add(branch)
    except IntegrityError:
        raise StaffAdminRefused(f"营业部代码 {code} 已被使用", "code") from None
    audit.record("branch.create", "branch", branch.id, fields=["code", "name"])
    for business in businesses:
        give_grant(branch, business, WHOLE_BRANCH, reason or "新设营业部", actor)
    return branch


def update_branch(branch: Branch, code: str, name: str, actor: Staff) -> list[str]:
    code, name = _branch_values(code, name, branch)
    changed = [field for field, value in (("code", code), ("name", name)) if getattr(branch, field) != value]
    if changed:
        branch.code, branch.name = code, name
        db.session.flush()
        audit.record("branch.update", "branch", branch.id, fields=changed)
    return changed


def delete_branch(branch: Branch, actor: Staff) -> None:
    """Delete a branch that has neither staff nor customers (nor anything else that names it)."""
    if branch.is_headquarters:
        raise StaffAdminRefused("不能删除总部", status=409)
    counts = branch_counts().get(branch.id, {})
    if counts.get("staff") or counts.get("customers"):
        raise StaffAdminRefused(f"该营业部尚有员工 {counts.get('staff', 0)} 人、客户 {counts.get('customers', 0)} 户，不能删除",
                                status=409)
    branch_id = branch.id
    try:
        with db.session.begin_nested():
            for grant in db.session.scalars(select(BusinessGrant).where(BusinessGrant.branch_id == branch_id)):
                db.session.execute(BusinessGrantChange.__table__.delete().where(BusinessGrantChange.grant_id == grant.id))
                db.session.delete(grant)
            db.session.flush()  # no relationship orders these deletes: the grants go first
            db.session.delete(branch)
            db.session.flush()
    except IntegrityError:
        raise StaffAdminRefused("该营业部仍有业务记录，不能删除", status=409) from None
    audit.record("branch.delete", "branch", branch_id)


# --------------------------------------------------------------------------- grants (总部赋权)

def grants_of(branch: Branch) -> list[BusinessGrant]:
    """The branch's grants in the order of the businesses' table, the whole-branch grant first."""
    order = {business: position for position, business in enumerate(BUSINESSES)}
    grants = db.session.scalars(select(BusinessGrant).where(BusinessGrant.branch_id == branch.id))
    return sorted(grants, key=lambda g: (order.get(g.business, len(order)), g.role != WHOLE_BRANCH, g.role))


def grant_history(branch: Branch) -> list[tuple[BusinessGrantChange, str, str]]:
    """The branch's grant changes, newest first: (change, business, role)."""
    return list(db.session.execute(select(BusinessGrantChange, BusinessGrant.business, BusinessGrant.role)
                                   .join(BusinessGrant, BusinessGrant.id == BusinessGrantChange.grant_id)
                                   .where(BusinessGrant.branch_id == branch.id)
                                   .order_by(BusinessGrantChange.id.desc()).limit(100)))


def find_grant(grant_id: int) -> BusinessGrant | None:
    return db.session.get(BusinessGrant, grant_id)


def give_grant(branch: Branch, business: str, role: str, reason: str, actor: Staff) -> BusinessGrant:
    """Grant a business to the branch (role "*") or to one role in it; a withdrawn grant is given again."""
    if business not in BUSINESSES:
        raise StaffAdminRefused("请选择业务", "business")
    if role != WHOLE_BRANCH and role not in GRANT_ROLES:
        raise StaffAdminRefused("请选择岗位", "role")
    reason = (reason or "").strip()
    if not reason:
        raise StaffAdminRefused("请填写赋权原因", "reason")
    grant = db.session.scalar(select(BusinessGrant).filter_by(branch_id=branch.id, business=business, role=role))
    now = utcnow()
    if grant is not None and grant.active:
        return grant  # already given: a second click changes nothing
    if grant is None:
        grant = BusinessGrant(branch_id=branch.id, business=business, role=role, active=True, reason=reason,
                              changed_by_id=actor.id, changed_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(grant)
        except IntegrityError:
            return db.session.scalar(select(BusinessGrant).filter_by(branch_id=branch.id, business=business, role=role))
    else:
        result = db.session.execute(update(BusinessGrant).where(BusinessGrant.id == grant.id,
                                                                BusinessGrant.active.is_(False))
                                    .values(active=True, reason=reason, changed_by_id=actor.id, changed_at=now,
                                            reviewed_by_id=None, reviewed_at=None, version=BusinessGrant.version + 1)
                                    .execution_options(synchronize_session=False))
        db.session.refresh(grant)
        if result.rowcount != 1:
            return grant
    db.session.add(BusinessGrantChange(grant_id=grant.id, action="given", reason=reason, by_id=actor.id, at=now))
    audit.record("grant.give", "business_grant", grant.id, branch_id=branch.id, business=business, role=role)
    return grant


def withdraw_grant(grant: BusinessGrant, version: int, reason: str, actor: Staff) -> bool:
    """Withdraw a grant with a reason; False when it was already withdrawn (the same click twice)."""
    reason = (reason or "").strip()
    if not reason:
        raise StaffAdminRefused("请填写撤回原因", "reason")
    now = utcnow()
    result = db.session.execute(update(BusinessGrant).where(BusinessGrant.id == grant.id, BusinessGrant.active.is_(True),
                                                            BusinessGrant.version == version)
                                .values(active=False, reason=reason, changed_by_id=actor.id, changed_at=now,
                                        reviewed_by_id=None, reviewed_at=None, version=BusinessGrant.version + 1)
                                .execution_options(synchronize_session=False))
    db.session.refresh(grant)
    if result.rowcount != 1:
        if not grant.active:
            return False
        raise StaffAdminRefused("该赋权刚被修改，请刷新后重试", status=409)
    db.session.add(BusinessGrantChange(grant_id=grant.id, action="withdrawn", reason=reason, by_id=actor.id, at=now))
    audit.record("grant.withdraw", "business_grant", grant.id, branch_id=grant.branch_id, business=grant.business,
                 role=grant.role)
    return True


def review_grant(grant: BusinessGrant, version: int, reviewer: Staff) -> bool:
    """The branch manager confirms (复核) a grant as HQ last set it; False when already confirmed."""
    if grant.branch_id != reviewer.branch_id:
        raise StaffAdminRefused("只能复核本营业部的赋权", status=403)
    now = utcnow()
    result = db.session.execute(update(BusinessGrant).where(BusinessGrant.id == grant.id, BusinessGrant.version == version,
                                                            BusinessGrant.reviewed_at.is_(None))
                                .values(reviewed_by_id=reviewer.id, reviewed_at=now)
                                .execution_options(synchronize_session=False))
    db.session.refresh(grant)
    if result.rowcount != 1:
        if grant.version == version:
            return False
        raise StaffAdminRefused("总部刚修改了该赋权，请查看后再确认", status=409)
    db.session.add(BusinessGrantChange(grant_id=grant.id, action="reviewed", by_id=reviewer.id, at=now))
    audit.record("grant.review", "business_grant", grant.id, branch_id=grant.branch_id, business=grant.business)
    return True


def may_perform(staff: Staff, business: str) -> bool:
    """Whether the staff member's branch, or their role in it, holds HQ's grant of `business`.

    Headquarters staff are the grantors and are not limited by a branch grant.
    """
    if staff.role == Role.HQ_ADMIN or staff.branch.is_headquarters:
        return True
    return db.session.scalar(select(BusinessGrant.id).where(
        BusinessGrant.branch_id == staff.branch_id, BusinessGrant.business == business,
        BusinessGrant.active.is_(True), BusinessGrant.role.in_((WHOLE_BRANCH, str(staff.role)))).limit(1)) is not None


def grant_all(branch: Branch, reason: str, actor: Staff | None = None) -> None:
    """Give a branch every business at once (the demo's branches)."""
    for business in BUSINESSES:
        if db.session.scalar(select(BusinessGrant.id).filter_by(branch_id=branch.id, business=business,
                                                                role=WHOLE_BRANCH)) is None:
            db.session.add(BusinessGrant(branch_id=branch.id, business=business, role=WHOLE_BRANCH, active=True,
                                         reason=reason, changed_by_id=getattr(actor, "id", None)))
    db.session.flush()
