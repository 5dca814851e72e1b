"""What every built-in simulator of an external system shares: failure injection and service hours."""
import threading
import time
from collections import deque
from datetime import datetime, timedelta, timezone

from core.outbox import OutsideServiceHours, Rejected, TransientError
from core.timeutil import BEIJING, to_beijing


class FaultPlan:
    """Tells a simulator to fail, be slow or refuse, so tests and demos can show each case."""

    def __init__(self, name: str):
        self.name = name
        self._lock = threading.Lock()
        self._faults: deque[tuple[str, str]] = deque()
        self.delay = 0.0
        self.timeout = 10.0
        self.calls = 0

    def fail_next(self, times: int = 1, message: str = "服务暂不可用") -> None:
        with self._lock:
            self._faults.extend(("fail", message) for _ in range(times))

    def reject_next(self, reason: str) -> None:
        with self._lock:
            self._faults.append(("reject", reason))

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.delay = 0.0
            self.calls = 0

    def before_call(self) -> None:
        """Apply the next planned fault, if any; raise as the real service's failure would look."""
        with self._lock:
            self.calls += 1
            fault = self._faults.popleft() if self._faults else None
        if self.delay:
            time.sleep(min(self.delay, self.timeout))
            if self.delay >= self.timeout:
                raise TransientError(f"{self.name}响应超时（模拟）")
        if fault is None:
            return
        kind, message = fault
        if kind == "fail":
            raise TransientError(f"{self.name}{message}（模拟）")
        raise Rejected(f"{self.name}拒绝：{message}（模拟）")


class ServiceHours:
    """When a simulated service answers: Monday to Friday between two Beijing times, e.g. "09:00-16:00"."""

    def __init__(self, spec: str):
        try:
            start, end = (datetime.strptime(part.strip(), "%H:%M").time() for part in spec.split("-"))
        except ValueError:
            raise ValueError(f"service hours {spec!r} are not of the form HH:MM-HH:MM") from None
        if start >= end:
            raise ValueError(f"service hours {spec!r} end before they start")
        self.spec, self.start, self.end = spec, start, end

    def is_open(self, now: datetime) -> bool:
        """Whether the service answers at `now` (naive UTC)."""
        local = to_beijing(now)
        return local.weekday() < 5 and self.start <= local.time() < self.end

    def next_open(self, now: datetime) -> datetime:
        """When the service next answers, as naive UTC; `now` itself while it is open."""
        if self.is_open(now):
            return now
        day = to_beijing(now).date()
        if to_beijing(now).time() >= self.start:
            day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        opening = datetime.combine(day, self.start, tzinfo=BEIJING)
        return opening.astimezone(timezone.utc).replace(tzinfo=None)

    def check(self, name: str, now: datetime) -> None:
        """Raise OutsideServiceHours, as the service's closed door would look, unless it is open at `now`."""
        if self.is_open(now):
            return
        next_open = self.next_open(now)
        raise OutsideServiceHours(f"{name}未在服务时间（工作日 {self.spec}，北京时间），"
                                  f"{to_beijing(next_open):%m-%d %H:%M} 开始受理（模拟）", next_open)
