"""The return-visit script (回访话术): what the agent reads aloud for each item of 第十一条.

The text is data: one entry per item of CHECK_ITEMS, with the lines to read and the facts the
customer's answers are checked against. Placeholders are filled from `facts`, which hold only
masked personal data (see services.script_facts).
"""
from dataclasses import dataclass

from core.masking import MASK_CHAR

HONORIFICS = {"M": "先生", "F": "女士"}
DEFAULT_HONORIFIC = "先生/女士"

# How each opening channel (第五条) is put to the customer when confirming it.
CHANNEL_PHRASES = {
    "onsite": "在营业部柜台现场办理",
    "witness": "由我公司见证人员与您见面见证办理",
    "online": "通过我公司网上开户系统办理",
}


@dataclass(frozen=True)
class ScriptItem:
    """One item of the call: the lines read aloud and the (label, fact) pairs to check the answer against."""

    key: str
    lines: tuple[str, ...]
    confirm: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ScriptLine:
    """A script item with its placeholders filled, ready for the call screen."""

    key: str
    lines: tuple[str, ...]
    confirm: tuple[tuple[str, str], ...]


OPENING = "您好，我是{firm_name}的回访专员。为保障您的权益，本次通话将全程录音。"

SCRIPT = (
    ScriptItem("identity", (
        "请问是{customer_name}{honorific}本人吗？",
        "为核实您的身份，请您说出您{id_type}号码的后四位。",
    ), (("客户姓名", "customer_name"), ("性别", "sex"), ("证件", "id_type"), ("证件号码", "id_last_four"))),
    ScriptItem("agent", (
        "您的账户是由{agent_name}（与您的关系：{agent_relationship}）代您办理的。",
        "请问您是否确实委托{agent_name}代为办理开户？您的授权委托书是否已办理公证？",
    ), (("代理人", "agent_name"), ("与客户关系", "agent_relationship"),
        ("授权委托书编号", "authorization_ref"), ("公证书编号", "notarization_no"))),
    ScriptItem("risk_understood", (
        "开户时，我公司工作人员向您讲解了证券投资的风险，并请您签署了《风险揭示书》。",
        "请问您是否已阅读各类风险揭示文件，并理解其中的条款？",
    ), (("风险承受能力", "risk_class"),)),
    ScriptItem("true_wish", (
        "请问在我公司开立证券账户，是否是您本人的真实意愿？是否有他人要求您开户，或将使用您的账户？",
    )),
    ScriptItem("password_reminder", (
        "请您自行设置交易密码和资金密码，并妥善保管，不要告诉任何人。",
        "我公司工作人员不会以任何理由向您索要密码。",
    )),
    ScriptItem("channel_confirmed", (
        "请问您是否于{opening_date}{channel_phrase}开户，开户营业部为{branch_name}？",
    ), (("开户方式", "channel"), ("开户日期", "opening_date"), ("开户营业部", "branch_name"))),
)
SCRIPT_BY_KEY = {item.key: item for item in SCRIPT}

CLOSING = "感谢您的配合。如有疑问，请拨打我公司客服电话或到营业部咨询。祝您投资顺利，再见！"


def honorific(sex: str | None) -> str:
    return HONORIFICS.get(sex or "", DEFAULT_HONORIFIC)


def last_four_only(value: str | None) -> str:
    """An ID number with everything but its last four characters hidden (what the customer is asked for)."""
    text = "".join(ch for ch in (value or "") if not ch.isspace())
    if len(text) <= 4:
        return MASK_CHAR * len(text)
    return MASK_CHAR * (len(text) - 4) + text[-4:]


class _Facts(dict):
    """Facts for the placeholders; one that is not on record reads as a dash, never as an error."""

    def __missing__(self, key):
        return "—"


def opening_line(facts: dict[str, str]) -> str:
    return OPENING.format_map(_Facts(facts))


def script_for(keys: list[str], facts: dict[str, str]) -> dict[str, ScriptLine]:
    """The script of the items this call covers, by item key, with the facts filled in."""
    facts, filled = _Facts(facts), {}
    for key in keys:
        item = SCRIPT_BY_KEY[key]
        filled[key] = ScriptLine(
            key=key,
            lines=tuple(line.format_map(facts) for line in item.lines),
            confirm=tuple((label, facts.get(fact) or "—") for label, fact in item.confirm),
        )
    return filled
