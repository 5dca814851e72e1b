"""China Clearing's links (关联关系) between a 一码通 and its sub-accounts: which ones stop a business."""
from blueprints.accounts.markets import MARKETS

# Sub-accounts China Clearing does not count when it looks for unconfirmed links.
NOT_COUNTED_STATUSES = frozenset({"closed", "dormant", "unqualified"})


def blocking_links(sub_accounts: list[dict]) -> list[dict]:
    """The sub-accounts whose unconfirmed link to the 一码通 stops a key change or a new sub-account."""
    return [sub for sub in sub_accounts
            if sub.get("link_state") == "unconfirmed" and sub.get("status", "normal") not in NOT_COUNTED_STATUSES]


def accounts_named(sub_accounts: list[dict]) -> str:
    """The sub-accounts by market and number: "上海A股账户 A123456789、深圳A股账户 0123456789"."""
    return "、".join(f"{MARKETS.get(sub['market'], sub['market'])} {sub['number']}" for sub in sub_accounts)


def blocking_message(links: list[dict]) -> str:
    """Name each blocking sub-account, as China Clearing does when it refuses."""
    return f"一码通下存在未确认关联关系的证券账户：{accounts_named(links)}，须先办理关联关系确认"
