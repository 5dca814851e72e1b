"""The scheduled work the job worker queues by itself: each entry once per period, whichever worker comes first.

The commands (`flask grading recompute`, `flask service escalate`, …) stay for running by hand; a
firm that runs the job worker needs no cron. A period's run is queued under the key
"<kind>@<period>", so several workers on several hosts queue it once; a worker started after the
hour of the day still queues that day's run. SCHEDULE_ENABLED=0 turns it off (the tests do).
"""
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from blueprints.auth import sessions
from blueprints.closure import services as closure
from blueprints.grading import services as grading
from blueprints.id_expiry import services as id_expiry
from blueprints.search import kept
from blueprints.service import services as service
from core import jobs
from core.extensions import db
from core.timeutil import BEIJING


@dataclass(frozen=True)
class Entry:
    kind: str
    hourly: bool  # once an hour, at `minute`; otherwise once a day at `hour`:`minute` (Beijing time)
    hour: int
    minute: int
    weekdays_only: bool = False

    def period(self, now: datetime) -> str | None:
        """The period due at `now` (Beijing), or None before its time."""
        if self.weekdays_only and now.weekday() >= 5:
            return None
        if self.hourly:
            return f"{now:%Y-%m-%dT%H}" if now.minute >= self.minute else None
        return f"{now:%Y-%m-%d}" if (now.hour, now.minute) >= (self.hour, self.minute) else None


@jobs.kind("scheduled.grading", "每日客户分级重算",
           describe=lambda job: f"已按 {job.result['day']} 估值重算 {job.result['customers']} 位客户"
           if job.result and job.result.get("day") else "尚无行情数据，未估值")
def _grading(context: jobs.Context) -> dict:
    summary = grading.recompute(trigger="schedule", commit_each_chunk=True,
                                progress=lambda done, total: context.progress(done, total))
    return {"day": str(summary.day) if summary.day else None, "customers": summary.customers,
            "changed": summary.changed}


@jobs.kind("scheduled.escalate", "超期投诉升级")
def _escalate(_context: jobs.Context) -> dict:
    return {"escalated": service.escalate_overdue()}


@jobs.kind("scheduled.restrict_expired", "证件过期限制业务")
def _restrict_expired(_context: jobs.Context) -> dict:
    run = id_expiry.restrict_expired()
    return {"checked": run.checked, "restricted": run.restricted, "lifted": run.lifted}


@jobs.kind("scheduled.mark_dormant", "休眠账户认定")
def _mark_dormant(_context: jobs.Context) -> dict:
    numbers = closure.active_fund_account_numbers()
    db.session.commit()  # no transaction open while the trading system and the banks are asked
    run = closure.mark_dormant(closure.live_facts(numbers))
    return {"checked": run.checked, "marked": run.marked, "unavailable": run.unavailable}


@jobs.kind("scheduled.housekeeping", "清理过期的查询条件与会话记录",
           describe=lambda job: f"清理查询条件 {job.result['kept_searches']} 条、会话记录 {job.result['sessions']} 条"
           if job.result else "")
def _housekeeping(_context: jobs.Context) -> dict:
    return {"kept_searches": kept.forget_expired(), "sessions": sessions.purge_old(sessions.RECORDS_KEPT)}


SCHEDULE = (
    Entry("scheduled.escalate", hourly=True, hour=0, minute=5),
    Entry("scheduled.restrict_expired", hourly=False, hour=1, minute=0),
    Entry("scheduled.mark_dormant", hourly=False, hour=2, minute=0),
    Entry("scheduled.housekeeping", hourly=False, hour=3, minute=0),
    # After the day's prices are in (the import runs after the close).
    Entry("scheduled.grading", hourly=False, hour=19, minute=0, weekdays_only=True),
)
CHECK_EVERY_SECONDS = 30
_last_check = [0.0]


def tick(now: datetime | None = None) -> list[str]:
    """Queue what is due and not yet queued; returns the keys this call queued. Called by the worker loop."""
    if not current_app.config.get("SCHEDULE_ENABLED", True):
        return []
    if now is None:
        if time.monotonic() - _last_check[0] < CHECK_EVERY_SECONDS:
            return []
        _last_check[0] = time.monotonic()
    now = (now or datetime.now(BEIJING)).astimezone(BEIJING)
    queued = []
    for entry in SCHEDULE:
        period = entry.period(now)
        if period and jobs.enqueue_once(entry.kind, f"{entry.kind}@{period}"):
            queued.append(f"{entry.kind}@{period}")
    return queued
