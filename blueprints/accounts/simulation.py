"""What every built-in simulator of an external system shares: failure injection."""
import threading
import time
from collections import deque

from core.outbox import Rejected, TransientError


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
