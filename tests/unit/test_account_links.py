"""Which sub-accounts' unconfirmed links stop a business, and how China Clearing names them."""
import pytest

from blueprints.accounts.links import blocking_links, blocking_message


def sub(number, link_state="unconfirmed", status="normal", market="SH"):
    return {"market": market, "number": number, "link_state": link_state, "status": status, "firm": "ours"}


@pytest.mark.parametrize("account, blocking", [
    (sub("A1", "unconfirmed", "normal"), True),
    (sub("A1", "confirmed", "normal"), False),
    (sub("A1", "unconfirmed", "closed"), False),
    (sub("A1", "unconfirmed", "dormant"), False),
    (sub("A1", "unconfirmed", "unqualified"), False),
])
def test_blocking_links_count_only_unconfirmed_links_of_live_sub_accounts(account, blocking):
    assert blocking_links([account]) == ([account] if blocking else [])


def test_blocking_links_keep_order_and_ignore_the_rest():
    accounts = [sub("0100000001", market="SZ"), sub("A100000002", "confirmed"), sub("A100000003")]
    assert [s["number"] for s in blocking_links(accounts)] == ["0100000001", "A100000003"]
    assert blocking_links([]) == []


def test_blocking_message_names_each_account_with_its_market():
    assert blocking_message([sub("A123456789")]) == \
        "一码通下存在未确认关联关系的证券账户：上海A股账户 A123456789，须先办理关联关系确认"
    assert blocking_message([sub("A123456789"), sub("0123456789", market="SZ")]) == (
        "一码通下存在未确认关联关系的证券账户：上海A股账户 A123456789、深圳A股账户 0123456789，须先办理关联关系确认")
