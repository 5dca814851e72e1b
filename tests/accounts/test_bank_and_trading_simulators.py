"""The depository bank's balances and the trading system's positions, as closure and key changes need them."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from blueprints.accounts.depository_bank import BindRequest, sim_bank_balance
from blueprints.accounts.trading import SimulatedTradingSystem, build_trading_system
from core import crypto
from core.extensions import db
from core.outbox import Rejected, TransientError

FUND = "010112345678"
CARD = "6217000010001234567"


@pytest.fixture
def bank(app):
    bank = app.extensions["depository_bank"]
    with app.app_context():
        yield bank
    bank.reset()


@pytest.fixture
def trading(app):
    trading = app.extensions["trading"]
    with app.app_context():
        yield trading
    trading.reset()


@pytest.fixture
def bound(bank):
    request = BindRequest(bank_code="ICBC", bank_card=CARD, fund_account_no=FUND, name="张三",
                          id_number="110105198806121231")
    return bank.bind(request, f"bind:{FUND}")


def test_binding_registers_the_fund_account_with_a_zero_balance(bank, bound):
    assert bound["bank_reference"].startswith("ICBC-SIM-") and bound["simulated"] is True
    row = db.session.execute(select(sim_bank_balance)).one()
    db.session.rollback()  # no read transaction may stay open while the simulator writes
    assert (row.fund_account_no, row.bank_code, row.bound, row.key_info_confirmed) == (FUND, "ICBC", True, True)
    assert row.card_index == crypto.blind_index(CARD) and CARD not in [str(value) for value in row]
    assert bank.balance(FUND) == {"balance": Decimal("0.00"), "simulated": True}


def test_a_repeated_bind_gets_the_same_answer_and_keeps_the_balance(bank, bound):
    bank.set_balance(FUND, Decimal("88.80"))
    again = bank.bind(BindRequest("ICBC", CARD, FUND, "张三", "110105198806121231"), f"bind:{FUND}")
    assert again == bound
    assert bank.balance(FUND)["balance"] == Decimal("88.80")


def test_an_unknown_fund_account_has_nothing(bank):
    assert bank.balance("999999999999") == {"balance": Decimal("0.00"), "simulated": True}


def test_funds_out_must_move_exactly_the_balance(bank, bound):
    bank.set_balance(FUND, Decimal("1234.5"))
    with pytest.raises(Rejected, match="转出金额 ¥1,000.00 与资金余额 ¥1,234.50 不符"):
        bank.transfer_out(FUND, Decimal("1000"), "out-1")

    answer = bank.transfer_out(FUND, Decimal("1234.50"), "out-2")

    assert answer["transferred"] == "1234.50" and answer["simulated"] is True
    assert bank.balance(FUND)["balance"] == Decimal("0.00")
    assert bank.transfer_out(FUND, Decimal("1234.50"), "out-2") == answer  # a retry moves nothing twice


def test_unbinding_needs_an_empty_account(bank, bound):
    bank.set_balance(FUND, Decimal("0.01"))
    with pytest.raises(Rejected, match="尚有余额 ¥0.01"):
        bank.unbind(FUND, "unbind-1")
    bank.transfer_out(FUND, Decimal("0.01"), "out")

    assert bank.unbind(FUND, "unbind-2") == {"unbound": True, "simulated": True}
    assert db.session.scalar(select(sim_bank_balance.c.bound)) is False
    db.session.rollback()
    with pytest.raises(Rejected, match="未绑定银行卡"):
        bank.transfer_out(FUND, Decimal("0"), "out-after")


def test_the_bank_confirms_a_key_change(bank, bound):
    answer = bank.notify_key_change(FUND, "张叁", "resident_id", "110105198806121231", "key-1")
    assert answer["confirmed"] is True and answer["bank_reference"].startswith("ICBC-SIM-")
    assert bank.notify_key_change(FUND, "张叁", "resident_id", "110105198806121231", "key-1") == answer


@pytest.mark.parametrize("call", [
    lambda bank: bank.notify_key_change(FUND, "张叁", "resident_id", "110105198806121231", "key"),
    lambda bank: bank.transfer_out(FUND, Decimal("0"), "out"),
    lambda bank: bank.unbind(FUND, "unbind"),
])
def test_a_fund_account_the_bank_does_not_know_is_refused(bank, call):
    with pytest.raises(Rejected, match=f"资金账户 {FUND} 未在本行办理存管"):
        call(bank)


def test_bank_faults_apply_to_the_new_calls(bank, bound):
    bank.faults.fail_next(1)
    with pytest.raises(TransientError):
        bank.balance(FUND)
    assert bank.balance(FUND)["balance"] == Decimal("0.00")


def test_an_account_the_trading_system_never_saw_holds_nothing(trading):
    assert trading.position(FUND) == {
        "holdings": [], "open_orders": 0, "in_transit": Decimal("0.00"), "frozen": False, "last_trade_on": None,
        "margin_account": False, "designated_sh": False, "option_account": False, "permissions": [],
        "credited_today": Decimal("0.00"), "simulated": True}


def test_a_set_position_is_answered_and_changed_field_by_field(trading):
    holdings = [{"code": "600000", "name": "浦发银行", "quantity": 1000}]
    trading.set_position(FUND, holdings=holdings, open_orders=2, in_transit="300.5", designated_sh=True,
                         last_trade_on=date(2026, 11, 30))
    trading.set_position(FUND, frozen=True)

    position = trading.position(FUND)

    assert position["holdings"] == holdings
    assert (position["open_orders"], position["in_transit"], position["frozen"]) == (2, Decimal("300.50"), True)
    assert (position["last_trade_on"], position["designated_sh"], position["margin_account"]) == \
        (date(2026, 11, 30), True, False)
    with pytest.raises(TypeError):
        trading.set_position(FUND, balance=1)


def test_designation_is_revoked_only_without_holdings_or_orders(trading):
    trading.set_position(FUND, holdings=[{"code": "600000", "name": "浦发银行", "quantity": 100}], designated_sh=True)
    with pytest.raises(Rejected, match="不能撤销上海指定交易"):
        trading.revoke_designation(FUND, "revoke-1")
    trading.set_position(FUND, holdings=[{"code": "600000", "name": "浦发银行", "quantity": 0}])

    assert trading.revoke_designation(FUND, "revoke-2") == {"revoked": True, "simulated": True}
    assert trading.position(FUND)["designated_sh"] is False
    assert trading.revoke_designation(FUND, "revoke-2") == {"revoked": True, "simulated": True}


def test_trading_faults_are_injected_like_the_other_simulators(trading):
    trading.faults.reject_next("账户状态异常")
    with pytest.raises(Rejected, match="集中交易系统拒绝：账户状态异常"):
        trading.position(FUND)


def test_the_app_registers_the_trading_simulator(app):
    trading = app.extensions["trading"]
    assert isinstance(trading, SimulatedTradingSystem)
    assert (trading.provider, trading.simulated, trading.label) == ("simulator", True, "集中交易系统")
    with pytest.raises(RuntimeError, match="no adapter"):
        build_trading_system({"TRADING_SERVICE": "hundsun"})
