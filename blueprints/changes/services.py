"""Changes to customer information (资料变更): entry, same-terminal review, applying, syncing, refusals."""
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import func, or_, select

from blueprints.accounts import links as account_links
from blueprints.accounts.lifecycle import LIVE
from blueprints.accounts.models import DepositoryBinding, FundAccount
from blueprints.auth.models import Branch, Staff
from blueprints.changes import rules as change_rules
from blueprints.changes.models import ChangeStatusChange, CustomerChange
from blueprints.changes.rules import ChangeKind
from blueprints.changes.workflow import OPEN, STATUS_LABELS, ChangeStatus, check_transition
from blueprints.customers import services
from blueprints.customers.lifecycle import ENDED, CustomerKind
from blueprints.customers.models import Customer
from blueprints.customers.review_rules import checker_refusal
from blueprints.dictionaries import services as dictionaries
from blueprints.id_expiry import services as id_expiry
from core import audit, choices, crypto, files, masking, outbox
from core.db import release_for_external_call
from core.extensions import db
from core.outbox import MessageStatus, OutboxMessage, Rejected, TransientError
from core.reference import ID_TYPE_LABELS, IdType
from core.timeutil import to_beijing, utcnow

# The systems a clerk may choose to sync (the seed's 一码通, shareholder records, funds).
SYSTEMS = {"csdc": "中国结算一码通", "shareholder": "股东资料（集中交易）", "funds": "资金账户资料（集中交易）"}
BANK = "存管银行"

CSDC_CHANGE = "csdc.change_registration"
CSDC_CONFIRM_LINKS = "csdc.confirm_links"
TRADING_UPDATE = "trading.update_records"
BANK_KEY_CHANGE = "bank.notify_key_change"
TOPIC_LABELS = {CSDC_CHANGE: SYSTEMS["csdc"], CSDC_CONFIRM_LINKS: "中国结算（关联关系确认）",
                TRADING_UPDATE: "集中交易系统", BANK_KEY_CHANGE: BANK}

# What China Clearing registers for a person: the change fields it is sent.
CSDC_FIELDS = ("name", "id_type", "id_number", "id_valid_to", "mobile", "address", "postcode", "email")
KEY_KINDS = frozenset({ChangeKind.KEY, ChangeKind.RENEWAL, ChangeKind.UPGRADE})
# Businesses that change the three elements: China Clearing must hear of them, and refuses them while
# a link is unconfirmed; a renewed document's validity is synced like any registration change.
THREE_ELEMENT_KINDS = frozenset({ChangeKind.KEY, ChangeKind.UPGRADE})
CERTIFICATE_TYPES = {"image/jpeg", "image/png", "application/pdf"}

ENDED_REFUSALS = {
    CustomerKind.HISTORICAL: "该客户已销户，资料不能再修改",
    CustomerKind.MERGED: "该客户记录已并入同一人的另一客户记录，请在合并后的客户上办理",
}


class ChangeRefused(Exception):
    """The change cannot be taken further; the message says why, in Chinese (and `field` where it belongs)."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


# --- reading ------------------------------------------------------------------------------------

CHOICE_LABELS = {"education": choices.EDUCATION,
                 "tax_residency": choices.TAX_RESIDENCY, "id_type": {t.value: l for t, l in ID_TYPE_LABELS.items()}}


def display_value(field: str, value, full: bool = False) -> str | None:
    """A value as staff and the slip show it: labels for codes, masks for personal data."""
    if value in (None, ""):
        return None
    if field == "occupation":
        return dictionaries.label("occupation", value)
    if field in CHOICE_LABELS:
        return CHOICE_LABELS[field].get(value, value)
    if full:
        return value
    if field == "mobile":
        return masking.mask_mobile(value)
    if field == "id_number":
        return masking.mask_id_number(value)
    if field == "address":
        return masking.mask_address(value)
    if field == "tax_id":
        return masking.mask_id_number(value)
    return value


def open_change_count(customer_id: int) -> int:
    """How many of the customer's change businesses are not finished (closure waits for them)."""
    return db.session.scalar(select(func.count()).select_from(CustomerChange).where(
        CustomerChange.customer_id == customer_id, CustomerChange.status.in_(OPEN))) or 0


def open_change(customer_id: int) -> CustomerChange | None:
    return db.session.scalar(select(CustomerChange).where(CustomerChange.customer_id == customer_id,
                                                          CustomerChange.status.in_(OPEN)).limit(1))


def current_values(customer: Customer) -> dict:
    """What a change compares against: the current profile and the current ID document's validity."""
    profile = customer.profile
    values = {name: getattr(profile, name) for name in change_rules.KEY_FIELDS + change_rules.ORDINARY_FIELDS}
    document = services.current_id_document(customer.id)
    values["id_valid_from"] = document.valid_from.isoformat() if document and document.valid_from else None
    values["id_valid_to"] = document.valid_to.isoformat() if document and document.valid_to else None
    return values


def comparison(change_or_kind, before: dict, after: dict) -> list[change_rules.FieldChange]:
    """The 修改对比 rows: every field the business changes, before and after."""
    kind = change_or_kind.kind if isinstance(change_or_kind, CustomerChange) else change_or_kind
    if kind == ChangeKind.ORDINARY:
        fields = change_rules.ORDINARY_FIELDS
    elif kind == ChangeKind.LINK_CONFIRMATION:
        return []
    else:
        fields = change_rules.KEY_FIELDS + change_rules.VALIDITY_FIELDS
    return change_rules.diff(before, after, fields)


def find(reference: str, for_update: bool = False) -> CustomerChange | None:
    query = select(CustomerChange).where(CustomerChange.reference == reference)
    return db.session.scalar(query.with_for_update() if for_update else query)


def history(customer: Customer) -> list[CustomerChange]:
    return list(db.session.scalars(select(CustomerChange).where(CustomerChange.customer_id == customer.id)
                                   .order_by(CustomerChange.id.desc())))


def status_history(change: CustomerChange) -> list[ChangeStatusChange]:
    return list(db.session.scalars(select(ChangeStatusChange).where(ChangeStatusChange.change_id == change.id)
                                   .order_by(ChangeStatusChange.id)))


def messages_of(changes: list[CustomerChange]) -> dict[int, list[OutboxMessage]]:
    """Each change's requests to the external systems, in one query for all of them."""
    by_reference = {change.reference: change.id for change in changes}
    if not by_reference:
        return {}
    conditions = [OutboxMessage.idempotency_key.startswith(f"change:{reference}:") for reference in by_reference]
    result: dict[int, list[OutboxMessage]] = {change.id: [] for change in changes}
    for message in db.session.scalars(select(OutboxMessage).where(or_(*conditions)).order_by(OutboxMessage.id)):
        result[by_reference[message.idempotency_key.split(":")[1]]].append(message)
    return result


def system_label(message: OutboxMessage) -> str:
    """Which system a change request went to, as the clerk names it."""
    scope = message.payload.get("scope")
    return SYSTEMS.get(scope) if scope else TOPIC_LABELS.get(message.topic, message.topic)


def depository_out_of_sync(customer_id: int) -> bool:
    """存管信息不一致: a key change the depository bank has not yet confirmed."""
    return bool(db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.customer_id == customer_id, OutboxMessage.topic == BANK_KEY_CHANGE,
        OutboxMessage.status.in_((MessageStatus.PENDING, MessageStatus.REJECTED)))))


def status_label(change: CustomerChange) -> str:
    return STATUS_LABELS[ChangeStatus(change.status)]


def kind_label(change: CustomerChange) -> str:
    return change_rules.CHANGE_KIND_LABELS[ChangeKind(change.kind)]


def staff_names(changes: list[CustomerChange]) -> dict[int, str]:
    ids = {i for c in changes for i in (c.created_by_id, c.reviewer_id, c.operator_id) if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(Staff.id, Staff.full_name).where(Staff.id.in_(ids))).all())


# --- China Clearing's 一码通 query ----------------------------------------------------------------

@dataclass
class UnifiedAccountQuery:
    """What China Clearing answered about the customer's 一码通 when the change was entered."""

    available: bool
    found: bool = False
    unified_account_no: str | None = None
    sub_accounts: list[dict] = field(default_factory=list)
    blocking: list[dict] = field(default_factory=list)
    simulated: bool = False
    message: str = ""


def query_unified_account(customer: Customer) -> UnifiedAccountQuery:
    """Ask China Clearing for the customer's 一码通 and its links; say plainly when it cannot answer now."""
    clearing = current_app.extensions["china_clearing"]
    profile = customer.profile
    id_type, id_number, name = profile.id_type, profile.id_number, profile.name
    release_for_external_call(db.session)
    try:
        answer = clearing.query_unified_account(id_type, id_number, name)
    except (TransientError, Rejected) as error:
        return UnifiedAccountQuery(available=False, simulated=clearing.simulated,
                                   message=f"中国结算暂时无法查询：{error}")
    audit.record("csdc.query", "customer", customer.customer_no, found=answer is not None)
    if answer is None:
        return UnifiedAccountQuery(available=True, found=False, simulated=clearing.simulated,
                                   message="中国结算未查询到该客户的一码通账户，本次不向中国结算报送")
    subs = answer["sub_accounts"]
    blocking = account_links.blocking_links(subs)
    return UnifiedAccountQuery(available=True, found=True, unified_account_no=answer["unified_account_no"],
                               sub_accounts=subs, blocking=blocking, simulated=bool(answer.get("simulated")),
                               message=account_links.blocking_message(blocking) if blocking else "")


# --- entry ----------------------------------------------------------------------------------------

def _new_reference() -> str:
    stamp = to_beijing(utcnow()).strftime("%Y%m%d")
    while True:
        reference = f"BG{stamp}{secrets.randbelow(10**6):06d}"
        if find(reference) is None:
            return reference


def _transition(change: CustomerChange, target: ChangeStatus, actor: Staff | None, reason: str | None = None) -> None:
    check_transition(change.status, target)
    db.session.add(ChangeStatusChange(change_id=change.id, from_status=change.status, to_status=target,
                                      actor_id=getattr(actor, "id", None), reason=(reason or None) and reason[:500]))
    change.status = target


def _locked_customer(customer_id: int) -> Customer:
    """The customer row locked for this transaction, read afresh (another writer may have just committed)."""
    # OF customer: PostgreSQL cannot lock the outer-joined profile that is loaded with it.
    return db.session.get(Customer, customer_id, with_for_update={"of": Customer}, populate_existing=True)


def _refuse_unless_changeable(customer: Customer, base_version: int, replacing: CustomerChange | None) -> None:
    if customer.kind in ENDED:
        raise ChangeRefused(ENDED_REFUSALS[customer.kind], status=409)
    closing = db.session.scalar(select(func.count()).select_from(FundAccount).where(
        FundAccount.customer_id == customer.id, FundAccount.status == "closing"))
    if closing:
        raise ChangeRefused("该客户有账户正在销户，销户完成前不能修改资料", status=409)
    if base_version != customer.profile_version:
        raise ChangeRefused(f"客户资料已被他人修改（现为第 {customer.profile_version} 版），请核对最新资料后重新提交；"
                            "您录入的内容已保留在表单中", status=409)
    pending = open_change(customer.id)
    if pending is not None and pending is not replacing:
        raise ChangeRefused(f"该客户有未完成的资料变更 {pending.reference}（{status_label(pending)}），"
                            "须待其完成或撤销后再办理；您录入的内容已保留在表单中", status=409)


def _refuse_while_restricted(customer: Customer, kind: ChangeKind, after: dict) -> None:
    """Under the ID-expiry restriction only the business that records a valid document (完善资料) goes ahead."""
    refused = id_expiry.refusal(customer)
    if refused and not (kind in KEY_KINDS and id_expiry.records_valid_document(after)):
        raise ChangeRefused(refused, status=409)


def _made_with(client_token: str, actor: Staff) -> CustomerChange | None:
    """The change this clerk's form already made with `client_token`; refused when another staff member's
    did (a replayed or copied form never names, or leads to, someone else's change)."""
    earlier = db.session.scalar(select(CustomerChange).where(CustomerChange.client_token == client_token))
    if earlier is not None and earlier.created_by_id != actor.id:
        raise ChangeRefused("该页面已失效，请刷新页面后重新提交。", status=409)
    return earlier


def submit(customer: Customer, *, kind: ChangeKind, after: dict, systems: list[str], actor: Staff,
           client_token: str, base_version: int, query: UnifiedAccountQuery | None = None,
           verification: dict | None = None, certificate: files.StoredFile | None = None) -> CustomerChange:
    """Record the change for same-terminal review; a repeated client token returns the first one."""
    earlier = _made_with(client_token, actor)
    if earlier is not None:
        return earlier
    # One writer at a time per customer: the second of two clerks sees the first one's change,
    # and the second of two posts of one form finds the first one's.
    customer = _locked_customer(customer.id)
    earlier = _made_with(client_token, actor)
    if earlier is not None:
        return earlier
    _refuse_unless_changeable(customer, base_version, None)
    _refuse_while_restricted(customer, kind, after)
    before = current_values(customer)
    if kind != ChangeKind.LINK_CONFIRMATION and not comparison(kind, before, after):
        raise ChangeRefused("没有任何修改，无需提交")
    if kind in THREE_ELEMENT_KINDS and query is not None and query.blocking:
        raise ChangeRefused(query.message, field="systems", status=409)
    if kind in KEY_KINDS:
        for conflict in key_conflicts(customer, after):
            raise ChangeRefused(conflict, field="id_number", status=409)
    change = CustomerChange(
        reference=_new_reference(), client_token=client_token, customer_id=customer.id,
        branch_id=actor.branch_id, kind=kind, status=ChangeStatus.SUBMITTED, base_version=base_version,
        before=before, after=after, systems=systems,
        csdc_found=None if query is None or not query.available else query.found,
        unified_account_no=query.unified_account_no if query else None, verification=verification,
        certificate_sha256=certificate.sha256 if certificate else None,
        certificate_mime=certificate.mime if certificate else None,
        created_by_id=actor.id, submitted_at=utcnow())
    db.session.add(change)
    db.session.flush()
    db.session.add(ChangeStatusChange(change_id=change.id, from_status=None, to_status=ChangeStatus.SUBMITTED,
                                      actor_id=actor.id, reason="提交同机复核"))
    audit.record("customer.change_submit", "customer", customer.customer_no, change=change.reference, kind=kind,
                 fields=[row.field for row in comparison(kind, before, after)], systems=systems)
    db.session.flush()
    return change


@dataclass
class KeyChangeDraft:
    """A key-information business worked out from the form: what it is, the values after, what is wrong."""

    kind: ChangeKind | None
    after: dict
    errors: list = field(default_factory=list)  # opening.rules.FieldError: a form field and a message


def prepare_key_change(customer: Customer, element: str, *, name: str | None, id_type: str | None,
                       id_number: str | None, valid_from: date | None, valid_to: date | None,
                       today: date) -> KeyChangeDraft:
    """The values after one key element changes, checked as the opening checks a document (第十二条)."""
    from blueprints.opening import rules

    before = current_values(customer)
    after = dict(before)
    errors: list = []
    if element == "upgrade":
        upgraded = rules.eighteen_digit_form(before.get("id_number") or "")
        if before.get("id_type") != IdType.RESIDENT_ID or upgraded is None:
            return KeyChangeDraft(None, after, [rules.FieldError("element", "客户现有证件号码不是有效的15位居民身份证号码，不适用升位")])
        after["id_number"] = upgraded
        return KeyChangeDraft(ChangeKind.UPGRADE, after)
    if element == "name":
        after["name"] = (name or "").strip()
    elif element == "id_number":
        after["id_type"] = id_type or before["id_type"]
        after["id_number"] = rules.normalize_id_number(IdType(after["id_type"]), id_number or "")
    after["id_valid_from"] = valid_from.isoformat() if valid_from else None
    after["id_valid_to"] = valid_to.isoformat() if valid_to else None
    kind = change_rules.kind_of(before, after)
    if element == "renewal" and kind != ChangeKind.RENEWAL:
        errors.append(rules.FieldError("valid_to", "新证件有效期与现有证件相同，无需更新"))
    elif element in ("name", "id_number"):
        messages = change_rules.check_key_change(before, after)
        errors.extend(rules.FieldError("name" if element == "name" else "id_number", message) for message in messages)
    if kind is not None and not errors and valid_from is not None:
        document = services.current_id_document(customer.id)
        profile = customer.profile
        birth = profile.birth_date or (document.birth_date if document else None)
        sex = profile.sex or (document.sex if document else None)
        if birth is None or sex is None:
            birth = birth or rules.birth_date_from_id(IdType(after["id_type"]), after["id_number"])
            sex = sex or rules.sex_from_id(IdType(after["id_type"]), after["id_number"])
        doc = rules.IdDocument(id_type=IdType(after["id_type"]), id_number=after["id_number"], name=after["name"],
                               sex=sex or "M", birth_date=birth or today, valid_from=valid_from, valid_to=valid_to)
        errors.extend(rules.check_id_document(doc, today, require_ethnicity=False))
    return KeyChangeDraft(kind if not errors else None, after, errors)


def key_conflicts(customer: Customer, after: dict) -> list[str]:
    """第九条 again after a key change: every record carrying the new ID number must name the same person.

    Another customer holding the number, or an opening application in progress for it under another
    name, is a conflict; the customer's own accounts share the record and follow the change.
    """
    from blueprints.customers.models import CustomerProfile
    from blueprints.opening.models import Application
    from blueprints.opening.workflow import Status

    index = crypto.blind_index(after["id_number"])
    conflicts = [f"该证件号码已属于另一位客户（客户号 {db.session.get(Customer, other.customer_id).customer_no}），"
                 "不能变更为该号码；如系同一人，须先核实并合并客户档案"
                 for other in db.session.scalars(services.current_profiles().where(
                     CustomerProfile.id_number_index == index, CustomerProfile.customer_id != customer.id))]
    in_progress = db.session.scalars(select(Application).where(
        Application.id_number_index == index, Application.customer_name != after["name"],
        Application.status.in_((Status.DRAFT, Status.SUBMITTED, Status.REJECTED, Status.RESUBMITTED))))
    conflicts += [f"开户申请 {application.reference}（{application.status_label}）使用该证件号码但姓名不同，"
                  "须先核实或作废该申请" for application in in_progress]
    return conflicts


def verify_identity(after: dict) -> dict:
    """Check the new key information with the public-security identity service (公民身份信息核查)."""
    from blueprints.opening.identity_service import Answer

    if after["id_type"] != IdType.RESIDENT_ID:
        return {"result": "not_applicable", "message": "该证件类型不适用公民身份信息核查，须核对证件原件"}
    check = current_app.extensions["identity_service"].check(after["id_number"], after["name"])
    return {"result": check.result, "simulated": check.simulated, "provider": check.provider,
            "reference": check.reference, "message": check.message, "matched": check.result == Answer.MATCH}


# --- same-terminal review -------------------------------------------------------------------------

def refusal_reason(change: CustomerChange, reviewer: Staff) -> str | None:
    refused = checker_refusal(reviewer, maker_ids={change.created_by_id}, branch_id=change.branch_id,
                              business="资料变更")
    if refused:
        return refused
    if change.status != ChangeStatus.SUBMITTED:
        return f"该变更当前状态为“{status_label(change)}”，不能复核"
    return None


def reject(change: CustomerChange, reviewer: Staff, operator: Staff, reason: str) -> None:
    refused = refusal_reason(change, reviewer)
    if refused:
        raise ChangeRefused(refused, status=409)
    if not reason.strip():
        raise ChangeRefused("退回须填写原因", field="reason")
    change.reviewer_id, change.operator_id, change.decided_at = reviewer.id, operator.id, utcnow()
    change.reject_reason = reason.strip()[:500]
    _transition(change, ChangeStatus.REJECTED, reviewer, reason.strip())
    audit.record("customer.change_reject", "customer_change", change.reference, actor=reviewer,
                 operator=operator.username)
    db.session.flush()


def approve(change: CustomerChange, reviewer: Staff, operator: Staff) -> None:
    """Approve: the new profile version takes effect and the chosen systems are told through the outbox."""
    refused = refusal_reason(change, reviewer)
    if refused:
        raise ChangeRefused(refused, status=409)
    customer = _locked_customer(change.customer_id)
    if customer.kind in ENDED:
        raise ChangeRefused(ENDED_REFUSALS[customer.kind], status=409)
    if change.base_version != customer.profile_version:
        raise ChangeRefused(f"客户资料在提交后已被修改（现为第 {customer.profile_version} 版），本次变更不能生效，"
                            "请退回经办人核对", status=409)
    _refuse_while_restricted(customer, ChangeKind(change.kind), change.after)
    change.reviewer_id, change.operator_id, change.decided_at = reviewer.id, operator.id, utcnow()
    _apply(change, customer, change.after, reviewer)
    _transition(change, ChangeStatus.APPLIED, reviewer, "同机复核通过，新版本资料生效")
    if change.kind in KEY_KINDS:
        id_expiry.lift_if_renewed(customer, reviewer, f"资料变更 {change.reference}（{kind_label(change)}）复核通过，已登记有效证件")
    sent = _send(change, customer)
    if not sent:
        _transition(change, ChangeStatus.COMPLETED, None, "无需报送外部系统")
    audit.record("customer.change_approve", "customer_change", change.reference, actor=reviewer,
                 operator=operator.username, profile_version=change.applied_version)
    db.session.flush()


def _apply(change: CustomerChange, customer: Customer, values: dict, actor: Staff | None) -> None:
    """Make `values` the customer's next profile version (and, for key information, the next ID document)."""
    if change.kind == ChangeKind.LINK_CONFIRMATION:
        return
    profile = customer.profile
    current = {name: getattr(profile, name) for name in (
        "name", "id_type", "id_number", "sex", "birth_date", *services.CONTACT_FIELDS, *services.METHOD_FIELDS)}
    current.update({name: values.get(name) for name in change_rules.KEY_FIELDS + change_rules.ORDINARY_FIELDS})
    services.add_profile_version(customer, current, source="change", actor=actor)
    change.applied_version = customer.profile_version
    if change.kind in KEY_KINDS:
        document = services.current_id_document(customer.id)
        identity = {name: getattr(document, name) for name in services.ID_DOCUMENT_FIELDS} if document else {}
        identity.update(id_type=values["id_type"], id_number=values["id_number"], name=values["name"],
                        valid_from=values.get("id_valid_from"), valid_to=values.get("id_valid_to"))
        services.add_id_document(customer, identity, source="change", actor=actor)


def _live_fund_accounts(customer_id: int) -> list[FundAccount]:
    return list(db.session.scalars(select(FundAccount).where(FundAccount.customer_id == customer_id,
                                                             FundAccount.status.in_(LIVE)).order_by(FundAccount.id)))


def _send(change: CustomerChange, customer: Customer, revision: str = "", before: dict | None = None,
          after: dict | None = None, only: set[str] | None = None) -> int:
    """Queue the requests the change makes; return how many. Keys make every retry the same request.

    `before`/`after` default to the change's own; a withdrawal sends them the other way round to
    the systems in `only` (the third part of a request's key: csdc, shareholder, funds, bank).
    """
    before = change.before if before is None else before
    after, sent = (change.after if after is None else after), 0
    prefix = f"change:{change.reference}{revision}"

    def wanted(system: str) -> bool:
        return only is None or system in only
    if change.kind == ChangeKind.LINK_CONFIRMATION:
        outbox.enqueue(CSDC_CONFIRM_LINKS, f"{prefix}:csdc", {
            "change_id": change.id, "unified_account_no": change.unified_account_no,
            "sub_account_numbers": after["confirm"]}, customer_id=customer.id)
        return 1
    if "csdc" in change.systems and change.csdc_found and wanted("csdc"):
        fields = change_rules.diff(before, after, CSDC_FIELDS)
        if fields:
            outbox.enqueue(CSDC_CHANGE, f"{prefix}:csdc", {
                "change_id": change.id, "unified_account_no": change.unified_account_no,
                "changes": {row.field: row.after for row in fields}}, customer_id=customer.id)
            sent += 1
    accounts = _live_fund_accounts(customer.id)
    for scope in ("shareholder", "funds"):
        if scope in change.systems and wanted(scope):
            for account in accounts:
                outbox.enqueue(TRADING_UPDATE, f"{prefix}:{scope}:{account.number}", {
                    "change_id": change.id, "fund_account_no": account.number, "scope": scope,
                    "changes": {row.field: row.after for row in comparison(change, before, after)}},
                    customer_id=customer.id)
                sent += 1
    if change.kind in (ChangeKind.KEY, ChangeKind.UPGRADE) and wanted("bank"):
        bound = db.session.scalars(select(DepositoryBinding).where(
            DepositoryBinding.fund_account_id.in_([a.id for a in accounts]), DepositoryBinding.status == "bound"))
        numbers = {a.id: a.number for a in accounts}
        for binding in bound:
            outbox.enqueue(BANK_KEY_CHANGE, f"{prefix}:bank:{numbers[binding.fund_account_id]}", {
                "change_id": change.id, "fund_account_no": numbers[binding.fund_account_id],
                "name": after["name"], "id_type": after["id_type"], "id_number": after["id_number"]},
                customer_id=customer.id)
            sent += 1
    return sent


# --- after review: withdrawal, and the systems' answers -------------------------------------------------

def withdraw(change: CustomerChange, actor: Staff, reason: str) -> None:
    """Withdraw a returned change, or a refused one.

    A refused change was already in effect: the profile goes back to the values before it (a new
    version), the refused requests are cancelled, and every system that accepted the change is
    sent the earlier values, so none of them keeps what the profile no longer holds. While a
    system has not answered yet the change cannot be withdrawn: its answer would come after.
    """
    if change.status not in (ChangeStatus.REJECTED, ChangeStatus.REFUSED):
        raise ChangeRefused(f"该变更当前状态为“{status_label(change)}”，不能撤销", status=409)
    if not reason.strip():
        raise ChangeRefused("撤销须填写原因", field="reason")
    messages = messages_of([change])[change.id]
    if any(m.status == MessageStatus.PENDING for m in messages):
        raise ChangeRefused("尚有系统未应答本次变更，请待其应答后再撤销", status=409)
    was_refused = change.status == ChangeStatus.REFUSED
    # Withdrawn first: cancelling the refused requests below calls back here through on_cancelled.
    _transition(change, ChangeStatus.WITHDRAWN, actor, reason.strip())
    if was_refused:
        customer = _locked_customer(change.customer_id)
        for message in messages:
            if message.status == MessageStatus.REJECTED:
                outbox.cancel(message, actor, f"资料变更撤销：{reason.strip()}")
        _apply(change, customer, change.before, actor)
        accepted = {m.idempotency_key.split(":")[2] for m in messages if m.status == MessageStatus.DELIVERED}
        _send(change, customer, revision=":revert", before=change.after, after=change.before, only=accepted)
    audit.record("customer.change_withdraw", "customer_change", change.reference, actor=actor)
    db.session.flush()


def _settle(change_id: int) -> None:
    """Complete the change once every request it made has been handled."""
    change = db.session.get(CustomerChange, change_id, with_for_update=True)
    if change.status != ChangeStatus.APPLIED:
        return
    states = {m.status for m in messages_of([change])[change.id]}
    if states <= {MessageStatus.DELIVERED}:
        _transition(change, ChangeStatus.COMPLETED, None, "所选系统均已处理成功")


def _refused(message: OutboxMessage, reason: str) -> None:
    change = db.session.get(CustomerChange, message.payload["change_id"], with_for_update=True)
    if change.status == ChangeStatus.APPLIED:
        _transition(change, ChangeStatus.REFUSED, None, f"{TOPIC_LABELS.get(message.topic, message.topic)}拒绝：{reason}")
    audit.record("customer.change_refused", "customer_change", change.reference, actor_name="outbox-worker",
                 topic=message.topic, reason=reason[:200])


class _ChangeHandler:
    """What every change request does with the answer: settle the change, or mark it refused."""

    extension = ""

    @property
    def simulated(self) -> bool:
        return bool(current_app.extensions[self.extension].simulated)

    def apply(self, message: OutboxMessage, result: dict) -> None:
        _settle(message.payload["change_id"])

    def on_rejected(self, message: OutboxMessage, reason: str) -> None:
        _refused(message, reason)

    def on_cancelled(self, message: OutboxMessage, reason: str, actor: Staff) -> None:
        change = db.session.get(CustomerChange, message.payload["change_id"])
        if change.status == ChangeStatus.REFUSED:
            withdraw(change, actor, f"外部请求已撤销：{reason}")


@outbox.handler(CSDC_CHANGE)
class CsdcChangeHandler(_ChangeHandler):
    extension = "china_clearing"

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        return current_app.extensions["china_clearing"].change_registration(
            payload["unified_account_no"], payload["changes"], idempotency_key)


@outbox.handler(CSDC_CONFIRM_LINKS)
class CsdcConfirmLinksHandler(_ChangeHandler):
    extension = "china_clearing"

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        return current_app.extensions["china_clearing"].confirm_links(
            payload["unified_account_no"], payload["sub_account_numbers"], idempotency_key)


@outbox.handler(TRADING_UPDATE)
class TradingUpdateHandler(_ChangeHandler):
    extension = "trading"

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        return current_app.extensions["trading"].update_records(
            payload["fund_account_no"], payload["scope"], payload["changes"], idempotency_key)


@outbox.handler(BANK_KEY_CHANGE)
class BankKeyChangeHandler(_ChangeHandler):
    extension = "depository_bank"

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        return current_app.extensions["depository_bank"].notify_key_change(
            payload["fund_account_no"], payload["name"], payload["id_type"], payload["id_number"], idempotency_key)


# --- the confirmation slip --------------------------------------------------------------------------

def slip_context(change: CustomerChange, customer: Customer, mask) -> dict:
    """What the slip prints: the comparison with values masked as the customer's copy needs."""
    names = staff_names([change])
    messages = messages_of([change])[change.id]
    branch = db.session.get(Branch, change.branch_id)
    return {
        "kind": change.kind, "reference": change.reference,
        "firm_name": current_app.config["FIRM_NAME"], "branch_name": branch.name,
        "decided_at": (change.decided_at or utcnow()).replace(tzinfo=timezone.utc),
        "customer": {"customer_no": customer.customer_no, "name": customer.name, "customer_type": customer.customer_type,
                     "id_type_label": mask["id_type"](customer.id_type),
                     "id_number_masked": mask["id_number"](customer.id_number)},
        "changes": [{"label": row.label, "before": mask["value"](row.field, row.before),
                     "after": mask["value"](row.field, row.after)}
                    for row in comparison(change, change.before, change.after)]
        or [{"label": "确认关联关系的证券账户", "before": "未确认", "after": "、".join(change.after.get("confirm", []))}],
        "systems": [{"label": system_label(m), "state": m.delivery_label} for m in messages],
        "clerk_name": names.get(change.created_by_id, ""), "reviewer_name": names.get(change.reviewer_id, ""),
        "simulated": any(m.result and m.result.get("simulated") for m in messages) or any(
            current_app.extensions[name].simulated for name in ("china_clearing", "depository_bank", "trading")),
    }


def store_slip(change: CustomerChange, pdf: bytes) -> None:
    stored = files.store(pdf, {"application/pdf"}, max(len(pdf), 1))
    change.slip_sha256 = stored.sha256


def store_signed_slip(change: CustomerChange, data: bytes, actor: Staff) -> None:
    if change.status not in (ChangeStatus.APPLIED, ChangeStatus.COMPLETED, ChangeStatus.REFUSED):
        raise ChangeRefused("变更生效后才能上传客户签字的确认单", status=409)
    if change.signed_slip_sha256:
        raise ChangeRefused("客户签字的确认单已归档，不能替换", status=409)
    stored = files.store(data, CERTIFICATE_TYPES, current_app.config["MAX_SCAN_BYTES"])
    change.signed_slip_sha256, change.signed_slip_mime = stored.sha256, stored.mime
    audit.record("customer.change_signed_slip", "customer_change", change.reference, actor=actor, mime=stored.mime)
    db.session.flush()


# --- managers' query and counts -------------------------------------------------------------------

@dataclass(frozen=True)
class ChangeQuery:
    kind: str | None = None
    branch_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


def _beijing_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day) - timedelta(hours=8)


def _query_conditions(user: Staff, query: ChangeQuery) -> list:
    conditions = []
    if not user.sees_all_branches:
        conditions.append(CustomerChange.branch_id == user.branch_id)
    elif query.branch_id:
        conditions.append(CustomerChange.branch_id == query.branch_id)
    if query.kind:
        conditions.append(CustomerChange.kind == query.kind)
    if query.date_from:
        conditions.append(CustomerChange.submitted_at >= _beijing_midnight(query.date_from))
    if query.date_to:
        conditions.append(CustomerChange.submitted_at < _beijing_midnight(query.date_to + timedelta(days=1)))
    return conditions


def search_changes(user: Staff, query: ChangeQuery, limit: int = 100) -> list[CustomerChange]:
    return list(db.session.scalars(select(CustomerChange).where(*_query_conditions(user, query))
                                   .order_by(CustomerChange.id.desc()).limit(limit)))


def counts(user: Staff, query: ChangeQuery) -> list[tuple[str, str, int]]:
    """Changes counted by branch and business type: (branch name, kind, count)."""
    rows = db.session.execute(
        select(Branch.name, CustomerChange.kind, func.count()).join(Branch, Branch.id == CustomerChange.branch_id)
        .where(*_query_conditions(user, query)).group_by(Branch.name, CustomerChange.kind)
        .order_by(Branch.name, CustomerChange.kind)).all()
    return [(name, kind, count) for name, kind, count in rows]
