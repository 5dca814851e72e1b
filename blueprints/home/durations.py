"""How long something has waited, as the home page and the queues say it."""
from datetime import datetime


def waited_label(since: datetime | None, now: datetime) -> str:
    """"3 天 2 小时", "45 分钟": the largest two units, never more precise than a minute."""
    if since is None:
        return "—"
    minutes = int(max(0.0, (now - since).total_seconds()) // 60)
    if minutes < 1:
        return "不到 1 分钟"
    if minutes < 60:
        return f"{minutes} 分钟"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} 小时 {minutes} 分钟" if minutes else f"{hours} 小时"
    days, hours = divmod(hours, 24)
    return f"{days} 天 {hours} 小时" if hours else f"{days} 天"
