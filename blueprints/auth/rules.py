"""The login throttle's rules and the session timeouts: pure functions of counts and times."""
from dataclasses import dataclass
from datetime import datetime, timedelta

# No wait longer than this after any number of failures: a stranger can delay the owner, never shut them out.
MAX_DELAY = timedelta(minutes=15)


@dataclass(frozen=True)
class ThrottleRule:
    """How failures of one kind are counted: `free` failures cost nothing, each further one doubles the wait."""

    scope: str
    free: int
    forget_after: timedelta  # a count whose last failure is older than this starts again from nothing


# Per typed username (known or not, so the answer tells nothing about which usernames exist); a successful
# check resets it.
ACCOUNT = ThrottleRule("account", free=3, forget_after=timedelta(hours=24))
# Per source address: a higher threshold, since a branch's terminals may share one address; it only decays.
SOURCE = ThrottleRule("source", free=10, forget_after=timedelta(hours=1))
RULES = (ACCOUNT, SOURCE)


def delay_after(failures: int, rule: ThrottleRule) -> timedelta:
    """How long the next attempt waits after `failures` failures in a row: 2, 4, 8 … seconds, at most MAX_DELAY."""
    if failures < rule.free:
        return timedelta(0)
    exponent = failures - rule.free + 1
    if exponent >= 20:  # past the cap long before; keeps the power small
        return MAX_DELAY
    return min(MAX_DELAY, timedelta(seconds=2 ** exponent))


def wait_in_words(seconds: int) -> str:
    """A wait as people say it: 秒 under a minute, else whole minutes rounded up."""
    seconds = max(1, int(seconds))
    if seconds < 60:
        return f"{seconds} 秒"
    return f"{-(-seconds // 60)} 分钟"


def lapse_of(created_at: datetime, last_seen_at: datetime, now: datetime, idle: timedelta,
             absolute: timedelta) -> str | None:
    """Why a live session may no longer be used ("absolute", "idle"), or None while it may."""
    if now - created_at >= absolute:
        return "absolute"
    if now - last_seen_at > idle:
        return "idle"
    return None
