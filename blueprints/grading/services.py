"""Valuing customers' holdings, deciding their grades, recording changes and telling their managers."""
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from blueprints.auth.models import Staff
from blueprints.customers.lifecycle import ENDED
from blueprints.customers.models import Customer
from blueprints.grading import rules, valuation
from blueprints.grading.models import (Commission, CustomerGrade, GradeChange, GradeRule, Holding, IndustryIndexClose,
                                       Notification, SecurityPrice, TradingDay)
# Managers knows nothing of grading (it imports customers, auth and core only), so grading reads its
# assignments directly.
from blueprints.managers import services as managers
from blueprints.managers.models import CustomerAssignment
from core import audit
from core.extensions import db
from core.roles import Role
from core.timeutil import business_today, to_beijing, utcnow

# How far back quotes are read for the latest close and a suspension's last traded close.
QUOTE_LOOKBACK_DAYS = 400
RECOMPUTE_CHUNK = 500


# --- market data ---------------------------------------------------------------------------------

def trading_calendar() -> valuation.Calendar:
    return valuation.Calendar(db.session.scalars(select(TradingDay.day)))


def valuation_day(calendar: valuation.Calendar, today: date | None = None) -> date | None:
    """The latest trading day on or before today: the day holdings are valued on."""
    days = calendar.last_n(1, today or business_today())
    return days[0] if days else None


class Market:
    """Quotes and index closes for a set of securities over the window a valuation needs."""

    def __init__(self, codes: set[str], first: date, last: date):
        self.quotes: dict[str, valuation.Series] = {}
        self.indexes: dict[str, valuation.Series] = {}
        since = first - timedelta(days=QUOTE_LOOKBACK_DAYS)
        by_code: dict[str, list] = {}
        if codes:
            for row in db.session.execute(select(SecurityPrice.security_code, SecurityPrice.day, SecurityPrice.close,
                                                 SecurityPrice.suspended, SecurityPrice.industry_code)
                                          .where(SecurityPrice.security_code.in_(codes), SecurityPrice.day >= since,
                                                 SecurityPrice.day <= last)):
                by_code.setdefault(row.security_code, []).append(
                    valuation.Quote(row.day, Decimal(row.close), bool(row.suspended), row.industry_code))
        self.quotes = {code: valuation.Series(points) for code, points in by_code.items()}
        industries = {q.industry_code for points in by_code.values() for q in points if q.industry_code}
        by_industry: dict[str, list] = {}
        if industries:
            for row in db.session.execute(select(IndustryIndexClose.industry_code, IndustryIndexClose.day,
                                                 IndustryIndexClose.close)
                                          .where(IndustryIndexClose.industry_code.in_(industries),
                                                 IndustryIndexClose.day >= since, IndustryIndexClose.day <= last)):
                by_industry.setdefault(row.industry_code, []).append(valuation.IndexPoint(row.day, Decimal(row.close)))
        self.indexes = {code: valuation.Series(points) for code, points in by_industry.items()}

    def price(self, code: str, day: date) -> valuation.Price | None:
        series = self.quotes.get(code)
        if series is None:
            return None
        latest = series.on_or_before(day)
        index = self.indexes.get(latest.industry_code) if latest is not None and latest.industry_code else None
        return valuation.listed_price(series, day, index)


def _line(holding: Holding) -> valuation.HoldingLine:
    return valuation.HoldingLine(security_code=holding.security_code, quantity=Decimal(holding.quantity),
                                 cost=None if holding.cost is None else Decimal(holding.cost), kind=holding.kind,
                                 listed_code=holding.listed_code, lockup_start=holding.lockup_start,
                                 lockup_end=holding.lockup_end)


def _priced_code(line: valuation.HoldingLine) -> str:
    # Bonus and rights shares, and placed shares, are valued at the listed line's close (第五、七条).
    return line.listed_code or line.security_code


def value_lines(lines: list[valuation.HoldingLine], day: date, market: Market,
                calendar: valuation.Calendar) -> list[valuation.Valued]:
    return [valuation.value_line(line, day, market.price(_priced_code(line), day), calendar) for line in lines]


@dataclass
class CustomerValuation:
    day: date | None
    lines: list = field(default_factory=list)
    total: Decimal = Decimal("0.00")
    average: Decimal = Decimal("0.00")
    days_averaged: int = 0


def _average(totals: list[Decimal]) -> Decimal:
    if not totals:
        return Decimal("0.00")
    return valuation.cents(sum(totals, Decimal("0")) / len(totals))


def value_customers(customer_ids: list[int], day: date | None, calendar: valuation.Calendar) -> dict[int, CustomerValuation]:
    """Each customer's holdings valued on `day`, and the average over the last 20 trading days.

    The average values today's holdings at each day's prices: holdings are imported as a
    current position, not as a daily history.
    """
    result = {customer_id: CustomerValuation(day) for customer_id in customer_ids}
    if day is None or not customer_ids:
        return result
    holdings: dict[int, list] = {}
    for holding in db.session.scalars(select(Holding).where(Holding.customer_id.in_(customer_ids))
                                      .order_by(Holding.customer_id, Holding.security_code, Holding.id)):
        holdings.setdefault(holding.customer_id, []).append(_line(holding))
    window = calendar.last_n(rules.AVERAGE_DAYS, day) or [day]
    codes = {_priced_code(line) for lines in holdings.values() for line in lines}
    market = Market(codes, window[0], day)
    for customer_id, lines in holdings.items():
        entry = result[customer_id]
        entry.lines = value_lines(lines, day, market, calendar)
        entry.total = valuation.total(entry.lines)
        totals = [entry.total if d == day else valuation.total(value_lines(lines, d, market, calendar)) for d in window]
        entry.average, entry.days_averaged = _average(totals), len(window)
    return result


def contributions(customer_ids: list[int], day: date | None) -> dict[int, Decimal]:
    if day is None:
        return {}
    since = day - timedelta(days=rules.CONTRIBUTION_DAYS - 1)
    rows = db.session.execute(select(Commission.customer_id, func.sum(Commission.amount))
                              .where(Commission.customer_id.in_(customer_ids), Commission.day >= since,
                                     Commission.day <= day).group_by(Commission.customer_id))
    return {customer_id: valuation.cents(Decimal(amount)) for customer_id, amount in rows}


# --- rules ---------------------------------------------------------------------------------------

def rule_of(row: GradeRule) -> rules.Rule:
    def money(value):
        return None if value is None else Decimal(value)
    return rules.Rule(id=row.id, grade=row.grade, precedence=row.precedence,
                      min_average_assets=money(row.min_average_assets), min_total_assets=money(row.min_total_assets),
                      min_contribution=money(row.min_contribution), min_tenure_months=row.min_tenure_months)


def all_rules() -> list[GradeRule]:
    return list(db.session.scalars(select(GradeRule).order_by(GradeRule.precedence, GradeRule.id)))


def active_rules() -> list[rules.Rule]:
    return [rule_of(row) for row in all_rules() if row.enabled]


def save_rule(row: GradeRule | None, values: dict, actor: Staff) -> GradeRule:
    """Add or change one rule (HQ); audited with the values before and after."""
    before = None
    if row is None:
        row = GradeRule()
        db.session.add(row)
    else:
        before = rule_of(row).describe() + f"（优先级 {row.precedence}，{'启用' if row.enabled else '停用'}）"
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_by_id, row.updated_at = actor.id, utcnow()
    db.session.flush()
    audit.record("grading.rule_save", "grade_rule", row.id, before=before,
                 after=rule_of(row).describe() + f"（优先级 {row.precedence}，{'启用' if row.enabled else '停用'}）",
                 grade=row.grade)
    return row


# --- grading -------------------------------------------------------------------------------------

def customer_managers_of(customer: Customer, on: date | None = None) -> list[Staff]:
    """Who looks after the customer on `on` and hears of a grade change.

    The customer's manager(s) by the assignments that hold that day (a handover effective that
    day has already moved the customer); a customer with nobody assigned: the branch managers.
    """
    on = on or managers.today()
    assigned = list(db.session.scalars(
        select(Staff).join(CustomerAssignment, CustomerAssignment.staff_id == Staff.id)
        .where(CustomerAssignment.id.in_(managers.current_assignments(on)
                                         .where(CustomerAssignment.customer_id == customer.id)
                                         .with_only_columns(CustomerAssignment.id)),
               Staff.is_enabled.is_(True))
        .order_by(Staff.id)))
    if assigned:
        return assigned
    return list(db.session.scalars(select(Staff).where(Staff.branch_id == customer.branch_id,
                                                       Staff.role == Role.BRANCH_MANAGER, Staff.is_enabled)
                                   .order_by(Staff.id)))


@dataclass
class RecomputeSummary:
    day: date | None
    customers: int = 0
    changed: int = 0


def _tenure(customer: Customer, day: date) -> int:
    opened = to_beijing(customer.created_at).date()
    return rules.tenure_months(opened, day)


def recompute(customer_ids: list[int] | None = None, *, actor: Staff | None = None, trigger: str = "manual",
              today: date | None = None, commit_each_chunk: bool = False, progress=None) -> RecomputeSummary:
    """Value and grade the customers (all who are not historical when None); record every change of grade."""
    calendar = trading_calendar()
    day = valuation_day(calendar, today)
    summary = RecomputeSummary(day)
    rule_set = active_rules()
    query = select(Customer.id).where(Customer.kind.not_in(ENDED)).order_by(Customer.id)
    if customer_ids is not None:
        query = query.where(Customer.id.in_(customer_ids))
    ids = list(db.session.scalars(query))
    for start in range(0, len(ids), RECOMPUTE_CHUNK):
        chunk = ids[start:start + RECOMPUTE_CHUNK]
        valued = value_customers(chunk, day, calendar)
        paid = contributions(chunk, day)
        current = {row.customer_id: row for row in db.session.scalars(
            select(CustomerGrade).where(CustomerGrade.customer_id.in_(chunk)))}
        for customer in db.session.scalars(select(Customer).where(Customer.id.in_(chunk))):
            entry = valued[customer.id]
            figures = rules.Figures(average_assets=entry.average, total_assets=entry.total,
                                    contribution=paid.get(customer.id, Decimal("0.00")),
                                    tenure_months=_tenure(customer, day or today or business_today()))
            decision = rules.decide(rule_set, figures)
            summary.customers += 1
            if _apply(customer, current.get(customer.id), decision, figures, day or business_today(), actor, trigger,
                      today or managers.today()):
                summary.changed += 1
        if progress:
            progress(start + len(chunk), len(ids))
        if commit_each_chunk:
            db.session.commit()
    audit.record("grading.recompute", "customer", None if customer_ids is None else ",".join(map(str, customer_ids))[:200],
                 actor=actor, trigger=trigger, day=str(day), customers=summary.customers, changed=summary.changed)
    return summary


def _apply(customer: Customer, grade: CustomerGrade | None, decision: rules.Decision, figures: rules.Figures,
           day: date, actor: Staff | None, trigger: str, today: date) -> bool:
    shown = dict(figures.as_dict(), valued_on=day.isoformat())
    before = grade.grade if grade is not None else None
    if grade is None:
        grade = CustomerGrade(customer_id=customer.id)
        db.session.add(grade)
    grade.grade, grade.rule_id, grade.figures, grade.valued_on, grade.computed_at = (
        decision.grade, decision.rule.id if decision.rule else None, shown, day, utcnow())
    customer.grade = decision.grade
    if before == decision.grade:
        return False
    rule_text = (f"规则 #{decision.rule.id}（优先级 {decision.rule.precedence}）：{decision.rule.describe()}"
                 if decision.rule else "未满足任何规则，定为最低级别")
    db.session.add(GradeChange(customer_id=customer.id, from_grade=before, to_grade=decision.grade,
                               rule_id=decision.rule.id if decision.rule else None, rule_text=rule_text[:300],
                               figures=shown, valued_on=day, trigger=trigger, actor_id=getattr(actor, "id", None)))
    # The first grading of an ordinary customer is history, not news.
    if before is not None or decision.grade != rules.LOWEST_GRADE:
        text = (f"客户 {customer.customer_no} 级别{rules.direction(before, decision.grade)}："
                f"{rules.GRADE_LABELS.get(before, '—') if before else '无'} → {rules.GRADE_LABELS[decision.grade]}"
                f"（{day} 日均资产 {figures.average_assets} 元）")
        for manager in customer_managers_of(customer, today):
            db.session.add(Notification(recipient_id=manager.id, customer_id=customer.id, topic="grade_change",
                                        text=text[:300]))
    db.session.flush()
    return True


def grade_of(customer: Customer) -> CustomerGrade | None:
    return db.session.get(CustomerGrade, customer.id)


def grade_history(customer: Customer) -> list[GradeChange]:
    return list(db.session.scalars(select(GradeChange).where(GradeChange.customer_id == customer.id)
                                   .order_by(GradeChange.id.desc())))


def unread_notifications(user: Staff, limit: int = 20) -> list[Notification]:
    """The user's unread notices, newest first, each with its customer (for the masked name and the link)."""
    return list(db.session.scalars(select(Notification).where(Notification.recipient_id == user.id,
                                                              Notification.read_at.is_(None))
                                   .order_by(Notification.id.desc()).limit(limit)))


def mark_read(user: Staff, notification_id: int) -> bool:
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.recipient_id != user.id:
        return False
    notification.read_at = notification.read_at or utcnow()
    return True


def customer_valuation(customer: Customer) -> CustomerValuation:
    calendar = trading_calendar()
    day = valuation_day(calendar)
    return value_customers([customer.id], day, calendar)[customer.id]
