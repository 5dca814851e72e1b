"""The public-security citizen identity service (公民身份信息核查), behind one interface."""
import enum
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol


class Answer(enum.StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    UNAVAILABLE = "unavailable"


ANSWER_LABELS = {Answer.MATCH: "一致", Answer.MISMATCH: "不一致", Answer.UNAVAILABLE: "服务不可用"}


@dataclass(frozen=True)
class IdentityCheck:
    result: Answer
    simulated: bool
    provider: str
    reference: str | None
    message: str
    elapsed_ms: int


class IdentityService(Protocol):
    provider: str
    simulated: bool

    def check(self, id_number: str, name: str) -> IdentityCheck: ...


class SimulatedIdentityService:
    """Built-in stand-in for the real service; every answer it gives is marked simulated.

    It answers "match" unless told otherwise: `script()` queues answers for the next
    calls and `delay` makes each call slow, so tests and demos can reproduce a
    mismatch, an outage or a timeout.
    """

    provider = "simulator"
    simulated = True

    def __init__(self, timeout: float = 5.0):
        self.timeout = timeout
        self.delay = 0.0
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self.calls = 0

    def script(self, *answers: str) -> None:
        with self._lock:
            self._script.extend(Answer(answer) for answer in answers)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.delay = 0.0
            self.calls = 0

    def check(self, id_number: str, name: str) -> IdentityCheck:
        started = time.monotonic()
        with self._lock:
            self.calls += 1
            answer = self._script.popleft() if self._script else Answer.MATCH
        if self.delay:
            time.sleep(min(self.delay, self.timeout))
        elapsed = int((time.monotonic() - started) * 1000)
        if self.delay >= self.timeout:
            return IdentityCheck(Answer.UNAVAILABLE, True, self.provider, None, "核查服务响应超时（模拟）", elapsed)
        messages = {
            Answer.MATCH: "姓名与公民身份号码一致（模拟）",
            Answer.MISMATCH: "姓名与公民身份号码不一致（模拟）",
            Answer.UNAVAILABLE: "核查服务暂不可用（模拟）",
        }
        reference = None if answer == Answer.UNAVAILABLE else f"SIM-{secrets.token_hex(6).upper()}"
        return IdentityCheck(answer, True, self.provider, reference, messages[answer], elapsed)


def build_identity_service(config) -> IdentityService:
    """Choose the service named in IDENTITY_SERVICE; only the simulator is built in."""
    name = config["IDENTITY_SERVICE"]
    if name == "simulator":
        return SimulatedIdentityService(timeout=config["IDENTITY_SERVICE_TIMEOUT"])
    raise RuntimeError(f"unknown IDENTITY_SERVICE {name!r}: no adapter is installed for it")
