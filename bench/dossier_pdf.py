"""Measure dossier PDF rendering: stock WeasyPrint against core.pdf.renderer.render_pdf.

Usage:
    .venv/bin/python bench/dossier_pdf.py [--runs 11] [--fonttools-runs 3] [--no-fonttools]
                                          [--only stock,dossier] [--same-customer] [--out DIR]

It builds realistic table-heavy Chinese dossiers of 11 pages (application
form, risk disclosure, 16 suitability answers, agreements, review, return
visit and a long change history), one customer per run: customer 0 is 刘䶮
(䶮, CJK Extension A), some names are outside GB 2312 (玥), and every former
name has an Extension B character (𠀀), so the fallback fonts are always in
play. Every variant renders the same customers' HTML, each in its own child
process so that its peak memory and caches are its own. The children render in
lockstep, one render each in turn, so that a burst of other work on a shared
machine slows all variants alike:

  stock/draft CSS  stock, with the CSS the template avoids put back (auto
                   table layout, bold headings, collapsed cell borders): what
                   the template saves
  stock            weasyprint.HTML(string=html, base_url=...).write_pdf(), defaults
  dossier          render_pdf(): PDF/A-3b, record.json attached, warm font
                   configuration, prepared face, GC paused
  dossier/GC on    the same with Python's garbage collector left running
  dossier/no prepared face
                   render_pdf() printing with the installed fonts only
  dossier+warm_up  the same after warm_up() at process start
  fonttools        stock, with WeasyPrint forced onto its fontTools subsetter, as
                   it is when Debian's libharfbuzz-subset0 is missing
                   (monkeypatched in the child; no package is removed)

Each child renders N times: the first is "cold" (a fresh process: fonts,
fontconfig and Pango state are created), the median of the rest is "warm".
"steady cpu" is the CPU a child spent per dossier from its first warm render
to its last, whatever ran in between included: the garbage collection that a
render with the collector paused leaves for later is counted there.
Stock always runs, whatever --only says: every figure is printed beside
stock's from the same run (and as a ratio to it), so that a busy machine
shows in the baseline too. The targets of the archive (warm render and peak
memory of a render process) are checked against "dossier" at the end.
--same-customer renders customer 0 every time, the best case for Pango's own caches.
"""
import argparse
import json
import logging
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BEIJING = timezone(timedelta(hours=8))
CREATED = datetime(2026, 11, 25, 10, 30, tzinfo=BEIJING)

RISK_PARAGRAPHS = [
    "尊敬的投资者：证券市场是一个风险无时不在的市场。您在进行证券交易时存在赢利的可能，也存在亏损的风险。"
    "为使您更好地了解其中的风险，根据有关证券交易法律法规和证券交易所业务规则，特提供本风险揭示书，请认真详细阅读。",
    "一、宏观经济风险：由于我国宏观经济形势的变化以及周边国家、地区宏观经济环境和周边证券市场的变化，可能会引起国内证券市场的波动，使您存在亏损的可能，您将不得不承担由此造成的损失。",
    "二、政策风险：有关证券市场的法律、法规及相关政策、规则发生变化，可能引起证券市场价格波动，使您存在亏损的可能，您将不得不承担由此造成的损失。",
    "三、上市公司经营风险：由于上市公司所处行业整体经营形势的变化，上市公司经营管理等方面的因素，如经营决策重大失误、高级管理人员变更、重大诉讼等都可能引起该公司证券价格的波动；"
    "由于上市公司经营不善甚至于会导致该公司被停牌、摘牌，这些都使您存在亏损的可能。",
    "四、技术风险：由于交易撮合及行情揭示是通过电子通讯技术和电脑技术来实现的，这些技术存在着被网络黑客和计算机病毒攻击的可能，由此可能给您带来损失。",
    "五、不可抗力因素导致的风险：诸如地震、火灾、水灾、战争等不可抗力因素可能导致证券交易系统的瘫痪；证券营业部无法控制和不可预测的系统故障、设备故障、通讯故障、电力故障等也可能导致证券交易系统非正常运行甚至瘫痪，这些都会使您的交易委托无法成交或者无法全部成交，您将不得不承担由此导致的损失。",
    "六、其他风险：由于您密码失密、操作不当、投资决策失误等原因可能会使您发生亏损，该损失将由您自行承担；在您进行证券委托买卖时，由于他人代为操作或者违反规定委托他人代为买卖证券，均可能给您带来损失。",
    "七、您应当妥善保管本人的身份证件、证券账户卡、资金账户卡、交易密码及资金密码，不得将上述证件、账户及密码交由他人保管或使用。因您本人保管不善导致的损失，由您自行承担。",
    "八、本公司及工作人员不得向您作出保证收益或者承担损失的承诺，您应当对任何此类承诺保持警惕，并可以向本公司合规部门或者证券监管机构举报。",
    "九、您在参与融资融券、股票期权、科创板、创业板等业务之前，应当另行签署相应的风险揭示书，并满足相应的适当性管理要求。",
    "十、本风险揭示书的揭示事项仅为列举性质，未能详尽列明证券投资的所有风险和可能影响证券价格的所有因素。您在入市交易之前，应详细了解证券投资的风险，做好风险评估与财务安排，确定自身有足够的风险承受能力，避免因证券交易而遭受难以承受的损失。",
    "特别提示：您在本风险揭示书上签字，即表明您已经理解并愿意自行承担证券投资的风险和损失。",
]

QUESTIONS = [
    ("您的年龄处于哪个区间？", "B. 30 至 40 周岁", 8),
    ("您家庭可支配年收入（折合人民币）为？", "C. 50 万至 100 万元", 8),
    ("在您每年的家庭可支配收入中，可用于金融投资的比例为？", "B. 10% 至 25%", 6),
    ("您的投资知识可描述为？", "B. 一般：对金融产品及其相关风险具有基本的知识和理解", 6),
    ("您的投资经验可描述为？", "C. 丰富：本人参与过股票、基金等产品的交易", 8),
    ("您有多少年投资股票、基金、外汇、金融衍生产品等风险投资品的经验？", "C. 5 至 10 年", 8),
    ("您计划的投资期限是多久？", "B. 1 至 3 年", 6),
    ("您的投资目的是？", "B. 资产稳健增长", 6),
    ("您认为自己能承受的最大投资损失是多少？", "B. 10% 至 30%", 6),
    ("以下哪项描述最符合您的投资态度？", "B. 保守投资，不希望本金损失，愿意承担一定幅度的收益波动", 4),
    ("假设有两种投资：投资 A 预期获得 10% 的收益，可能承担的损失非常小；投资 B 预期获得 30% 的收益，但可能承担较大亏损。您会怎么支配您的投资？", "B. 大部分投资于 A", 4),
    ("您用于证券投资的大部分资金不会用作其他用途的时间段为？", "C. 2 至 5 年", 6),
    ("您目前的职业状态为？", "A. 有固定职业的在职人员", 6),
    ("您的最高学历为？", "C. 本科", 6),
    ("您是否有尚未清偿的数额较大的债务？", "A. 没有", 8),
    ("您是否存在不良诚信记录？", "A. 不存在", 0),
]

AGREEMENTS = [
    ("证券交易委托代理协议", "2025 版", "电子签名"),
    ("客户须知", "2025 版", "电子签名"),
    ("风险揭示书", "2025 版", "电子签名"),
    ("证券账户开户协议", "2024 版", "电子签名"),
    ("客户交易结算资金第三方存管协议", "2025 版", "电子签名"),
    ("网上证券委托协议", "2023 版", "电子签名"),
    ("个人信息处理授权书", "2025 版", "电子签名"),
    ("投资者适当性评估结果确认书", "2025 版", "电子签名"),
    ("适当性匹配意见告知书", "2025 版", "电子签名"),
    ("反洗钱客户身份识别声明", "2024 版", "电子签名"),
]

CHANGE_FIELDS = [
    ("联系电话", "138****0001", "139****8866", "客户来电申请变更，已核实身份"),
    ("联系地址", "北京市朝阳区****", "北京市东城区****", "客户临柜申请"),
    ("职业", "企业职员", "企业管理人员", "年度信息核查更新"),
    ("电子邮箱", "l***@example.cn", "l***@example.com.cn", "网上营业厅自助变更"),
    ("风险承受能力", "C3 稳健型", "C4 积极型", "重新评估问卷，结果确认书已签署"),
    ("证件有效期", "2016-03-01 至 2026-03-01", "2026-02-20 至 长期", "证件更换，已联网核查"),
    ("受益所有人", "本人", "本人", "年度复核，无变化"),
    ("交易权限", "普通交易", "普通交易、创业板", "开通创业板交易权限"),
]


SURNAMES = "刘王李张陈杨赵黄周吴徐孙胡朱高林何郭马罗"
# 玥 is outside GB 2312 (GBK): such names print from the installed Noto Sans CJK SC.
GIVEN_NAMES = ["䶮", "晓敏", "建国", "婧", "子涵", "浩然", "秀英", "志强", "雨桐", "俊杰", "嘉怡", "明轩", "玥"]
OCCUPATIONS = ["企业管理人员", "专业技术人员", "个体工商户", "公务员", "教师", "自由职业者"]
BANKS = ["中国工商银行北京朝阳门支行", "中国建设银行北京东四支行", "招商银行北京建国门支行", "中国银行北京金融街支行"]
LEVELS = ["C1 保守型", "C2 谨慎型", "C3 稳健型", "C4 积极型", "C5 激进型"]
# Another answer some customers give (question index: answer, score).
OPTIONS = {
    0: ("C. 40 至 50 周岁", 6), 1: ("B. 10 万至 50 万元", 6), 2: ("C. 25% 至 50%", 8),
    4: ("B. 有限：本人参与过银行理财产品的交易", 4), 5: ("B. 1 至 5 年", 6), 7: ("C. 资产迅速增长", 8),
    8: ("C. 30% 至 50%", 8), 12: ("B. 退休人员", 4), 13: ("D. 硕士及以上", 8),
}
STAFF = ["王晓敏", "李娜", "张伟", "刘洋", "陈静", "赵敏", "孙丽", "周杰"]


def build_context(*, change_rows: int = 110, seed: int = 0) -> tuple[dict, dict]:
    """Return (sections, record) for a realistic dossier of about 11 pages.

    seed 0 is 刘䶮 (CJK Extension A) with the former name 刘𠀀 (Extension B);
    other seeds are other customers: other names, numbers, dates, answers and
    change history, as consecutive dossiers of a branch would be. Every
    customer keeps an Extension B former name, so both fonts are always used.
    """
    rng = random.Random(seed)
    surname = SURNAMES[seed % len(SURNAMES)]
    given = GIVEN_NAMES[0] if seed == 0 else rng.choice(GIVEN_NAMES[1:])
    number = f"{110105 + seed % 97:06d}{2026 - seed % 3}{731 + seed:05d}"
    customer = {
        "name": surname + given,
        "customer_no": f"C{number}",
        "id_type_label": "居民身份证",
        "id_number_masked": f"{number[0]}****************{rng.choice('0123456789X')}",
    }
    signed = CREATED - timedelta(days=30 + 7 * seed, minutes=13 * seed)
    staff = rng.sample(STAFF, 4)
    phone = f"1{rng.randint(30, 99)}****{rng.randint(0, 9999):04d}"
    application = [
        ("客户姓名", customer["name"]),
        ("曾用名", surname + "𠀀"),
        ("性别", rng.choice(["男", "女"])),
        ("国籍", "中国"),
        ("出生日期", f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"),
        ("证件类型", customer["id_type_label"]),
        ("证件号码", customer["id_number_masked"]),
        ("证件有效期", f"{2016 + seed % 9}-03-01 至 {2036 + seed % 9}-03-01"),
        ("证件地址", rng.choice(["北京市朝阳区****", "北京市海淀区****", "河北省廊坊市****"])),
        ("联系地址", rng.choice(["北京市东城区****", "北京市西城区****", "北京市丰台区****"])),
        ("移动电话", phone),
        ("电子邮箱", f"{rng.choice('lwzcy')}***@example.com.cn"),
        ("职业", rng.choice(OCCUPATIONS)),
        ("工作单位", rng.choice(["北京某某科技有限公司", "某某大学", "某某贸易有限公司", "无"])),
        ("学历", rng.choice(["本科", "硕士研究生", "大专", "博士研究生"])),
        ("税收居民身份", "仅为中国税收居民"),
        ("实际控制人", "本人"),
        ("交易受益人", "本人"),
        ("开立账户", "资金账户；上海 A 股账户；深圳 A 股账户"),
        ("存管银行", rng.choice(BANKS)),
        ("开户渠道", rng.choice(["临柜（现场见证）", "见证开户（异地）"])),
        ("经办人员", f"柜台业务岗 {staff[0]}（工号 0102{rng.randint(10, 99)}）"),
    ]
    answers = [(question, *(OPTIONS[i] if seed and i in OPTIONS and rng.random() < 0.5 else (answer, score)))
               for i, (question, answer, score) in enumerate(QUESTIONS)]
    suitability = [
        [str(i), question, answer, str(score)]
        for i, (question, answer, score) in enumerate(answers, start=1)
    ]
    total = sum(score for _, _, score in answers)
    level = "C3 稳健型" if seed == 0 else LEVELS[min(total // 20, len(LEVELS) - 1)]
    agreements = [
        [name, version, how, (signed + timedelta(minutes=3 * i)).strftime("%Y-%m-%d %H:%M")]
        for i, (name, version, how) in enumerate(AGREEMENTS)
    ]
    changes = []
    for i in range(change_rows):
        field, old, new, why = CHANGE_FIELDS[(i + seed) % len(CHANGE_FIELDS)] if not seed else rng.choice(CHANGE_FIELDS)
        when = signed + timedelta(days=i, hours=i % 9, minutes=seed and rng.randint(0, 59))
        clerk = i % 40 if not seed else rng.randint(0, 39)
        changes.append([
            when.strftime("%Y-%m-%d %H:%M"), f"柜台业务岗（工号 0102{clerk:02d}）", field, old, new, why])
    sections = [
        {"key": "application", "title": "开户申请表", "rows": application},
        {"key": "risk-disclosure", "title": "风险揭示书", "paragraphs": RISK_PARAGRAPHS,
         "rows": [("签署方式", "电子签名"), ("签署时间", signed.strftime("%Y-%m-%d %H:%M"))]},
        {"key": "suitability", "title": "投资者适当性评估", "tables": [
            {"caption": "风险承受能力评估问卷（16 题）", "headers": ["序号", "问题", "客户选择", "得分"],
             "widths": ["7%", "51%", "34%", "8%"], "rows": suitability}],
         "rows": [("总分", str(total)), ("风险承受能力等级", level), ("评估日期", signed.strftime("%Y-%m-%d"))]},
        {"key": "agreements", "title": "协议签署记录", "tables": [
            {"headers": ["协议名称", "版本", "签署方式", "签署时间"], "widths": ["42%", "12%", "18%", "28%"],
             "rows": agreements}]},
        {"key": "review", "title": "复核记录", "rows": [
            ("复核结论", "通过"), ("复核人员", f"复核岗 {staff[1]}（工号 010311）"),
            ("复核时间", (signed + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")),
            ("复核意见", "身份证件联网核查一致，影像资料清晰完整，适当性匹配，同意开户。")],
         "tables": [{"caption": "复核过程", "headers": ["时间", "人员", "动作", "说明"],
                     "widths": ["22%", "12%", "14%", "52%"], "rows": [
             [(signed + timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M"), who, what, note]
             for m, who, what, note in [
                 (30, staff[0], "提交复核", "首次提交"),
                 (75, staff[1], "退回", "证件背面影像反光，请重新采集"),
                 (95, staff[0], "重新提交", "已重新采集证件背面影像"),
                 (120, staff[1], "复核通过", "资料完整"),
             ]]}]},
        {"key": "return-visit", "title": "回访记录", "rows": [
            ("回访方式", "电话回访（录音）"), ("回访人员", f"回访岗 {staff[2]}（工号 010420）"),
            ("回访时间", (signed + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")), ("回访结论", "成功，账户已激活")],
         "tables": [{"headers": ["序号", "回访问题", "客户回答"], "widths": ["8%", "56%", "36%"], "rows": [
             ["1", "请问您是否本人亲自办理开户？", "是"],
             ["2", "工作人员是否向您揭示了证券投资风险？", "是"],
             ["3", "您是否清楚自己的风险承受能力等级？", "清楚，稳健型"],
             ["4", "是否有工作人员向您承诺收益？", "没有"],
             ["5", "您的账户密码是否由本人设置并保管？", "是"],
             ["6", "您对开户服务是否满意？", "满意"],
         ]}]},
        {"key": "changes", "title": "资料变更历史", "tables": [
            {"headers": ["时间", "操作人", "变更项目", "原值", "新值", "说明"],
             "widths": ["13%", "17%", "11%", "18%", "18%", "23%"], "rows": changes}]},
    ]
    record = {
        "customer": customer,
        "application": dict(application),
        "suitability": {"answers": suitability, "total": total, "level": level.split()[0]},
        "agreements": agreements,
        "changes": changes,
    }
    return sections, record


def context_and_record(change_rows: int = 110, seed: int = 0) -> tuple[dict, dict]:
    """Return (template context, record) with the fingerprint of the record filled in."""
    from core.pdf import renderer

    sections, record = build_context(change_rows=change_rows, seed=seed)
    context = {
        "firm": "华夏远景证券股份有限公司",
        "branch": "北京朝阳门营业部",
        "customer": record["customer"],
        "archive_no": f"DA-2026-110105-{731 + seed:06d}",
        "generated_at": (CREATED + timedelta(minutes=seed)).strftime("%Y-%m-%d %H:%M:%S（北京时间）"),
        "fingerprint": renderer.sha256_hex(renderer.record_json(record)),
        "sections": sections,
    }
    return context, record


# What the template's CSS avoids on purpose, put back for the "draft CSS" variant.
DRAFT_CSS = (
    "<style>table { table-layout: auto } h1, h2, h3, th, caption { font-weight: bold }"
    " table.fields, table.grid { border-collapse: collapse }"
    " table.fields th, table.fields td, table.grid th, table.grid td { border: 0.5pt solid #999 }</style>")

VARIANTS = {
    "stock/draft CSS": "stock, CSS as first drafted: auto table layout, bold headings, collapsed borders",
    "stock": "weasyprint.HTML(string=html, base_url=...).write_pdf(), all defaults",
    "dossier": "render_pdf(): PDF/A-3b + record.json, prepared face, warm font configuration, GC paused",
    "dossier/GC on": "render_pdf() with the garbage collector left running",
    "dossier/no prepared face": "render_pdf() printing with the installed fonts only",
    "dossier+warm_up": "render_pdf() after warm_up() at process start",
    "fonttools": "stock, WeasyPrint forced onto fontTools (as without libharfbuzz-subset0)",
}


# What issue 13 asks of a dossier render process.
TARGET_WARM_S = 1.0
TARGET_PEAK_RSS_MB = 200


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def resident_mb() -> dict:
    """Return this process's resident memory now: private (anonymous) and mapped from files.

    The font files Pango maps are in the second: the page cache shares them
    between all the processes of a machine that print with those fonts.
    """
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                found[name] = int(value.split()[0]) / 1024
    return found


def serve(variant: str, folder: Path, out: Path) -> None:
    """Child process: set up one variant, then render once per "render N" line on stdin.

    Render N is customer N's dossier (dossier-N.html in folder). Answers one
    JSON line per request: the render's wall and CPU time, and this process's
    CPU clock before and after it, so that the parent can tell what renders
    cost in a steady state, the garbage collection that a render leaves for
    later included. "done" writes the last PDF and reports the size and this
    process's peak RSS.
    """
    htmls = {int(path.stem.split("-")[1]): path.read_text() for path in folder.glob("dossier-*.html")}
    records = {int(path.stem.split("-")[1]): json.loads(path.read_text()) for path in folder.glob("record-*.json")}
    base_url = ROOT.as_uri() + "/"
    started = time.perf_counter()
    import weasyprint

    from blueprints.archive import dossier_pdf
    from core.pdf import renderer

    ready = {"import": time.perf_counter() - started, "rss_after_import": peak_rss_mb(), "warm_up": None}

    if variant == "fonttools":
        import weasyprint.pdf.fonts

        # What WeasyPrint does when the library is missing (Font.subset): same
        # document, fontTools subsetter. Its warning would repeat on every run.
        weasyprint.pdf.fonts.harfbuzz_subset = None
        logging.getLogger("weasyprint").setLevel(logging.ERROR)

    if variant in ("stock", "stock/draft CSS", "fonttools"):
        extra = DRAFT_CSS if variant == "stock/draft CSS" else ""

        def render(number):
            html = htmls[number].replace("</head>", extra + "</head>")
            return weasyprint.HTML(string=html, base_url=base_url).write_pdf()
    else:
        def render(number):
            return renderer.render_pdf(
                htmls[number], base_url=base_url, attachments=[renderer.record_attachment(records[number])],
                title="客户开户档案", author="华夏远景证券股份有限公司 北京朝阳门营业部", created=CREATED)

        if variant == "dossier/no prepared face":
            from core.pdf import fonts

            fonts.prepared_font = lambda directory=None: None
            logging.getLogger("core.pdf.renderer").setLevel(logging.ERROR)
        if variant == "dossier/GC on":
            import gc

            gc.disable = lambda: None  # render_pdf calls gc.disable() through the module
        if variant == "dossier+warm_up":
            begun = time.perf_counter()
            dossier_pdf.warm_up(renderer.template_environment())
            ready["warm_up"] = time.perf_counter() - begun

    print(json.dumps(ready), flush=True)
    data = b""
    for line in sys.stdin:
        request = line.split()
        if request[0] == "render":
            begun, begun_cpu = time.perf_counter(), time.process_time()
            data = render(int(request[1]))
            ended, ended_cpu = time.perf_counter(), time.process_time()
            answer = {"time": ended - begun, "cpu": ended_cpu - begun_cpu, "cpu_clock": [begun_cpu, ended_cpu],
                      "bytes": len(data)}
        else:
            target = out / (re.sub(r"[^a-z0-9]+", "-", variant.lower()).strip("-") + ".pdf")
            target.write_bytes(data)
            answer = {"size": len(data), "path": str(target), "peak_rss": peak_rss_mb(), **resident_mb()}
        print(json.dumps(answer), flush=True)
        if request[0] != "render":
            return


class Child:
    """One variant in its own process, so its memory peak and its caches are its own."""

    def __init__(self, variant: str, folder: Path, out: Path):
        self.variant = variant
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--child", variant, "--html", str(folder), "--out", str(out)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.result = {"variant": variant, **self.ask(None), "times": [], "cpu_times": [], "cpu_clocks": [], "sizes": []}

    def ask(self, request: str | None) -> dict:
        if request is not None:
            self.process.stdin.write(request + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.variant}: child process failed (exit {self.process.wait()})")
        return json.loads(line)

    def render(self, number: int) -> None:
        answer = self.ask(f"render {number}")
        self.result["times"].append(answer["time"])
        self.result["cpu_times"].append(answer["cpu"])
        self.result["cpu_clocks"].append(answer["cpu_clock"])
        self.result["sizes"].append(answer["bytes"])

    def finish(self) -> dict:
        self.result.update(self.ask("done"))
        self.process.wait()
        return self.result


def measure(variants: list[str], runs: dict[str, int], folder: Path, out: Path, same: bool) -> dict:
    """Render every variant in lockstep, one render each in turn, rotating who goes first.

    Run N renders customer N (or customer 0 every time with same), the same
    customer for every variant. The machine may be shared: a burst of someone
    else's work then slows renders of all variants alike instead of one
    variant's whole series.
    """
    children = [Child(variant, folder, out) for variant in variants]
    for index in range(max(runs.values())):
        turn = children[index % len(children):] + children[:index % len(children)]
        for child in turn:
            if index < runs[child.variant]:
                child.render(0 if same else index)
    return {child.variant: child.finish() for child in children}


def page_count(path: str) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


def warm(values: list[float]) -> float:
    return statistics.median(values[1:] or values)


def steady_cpu(result: dict) -> float:
    """CPU seconds per dossier over the warm renders, whatever ran between them included.

    A render that pauses the garbage collector leaves its cycles to be
    collected after it returns; this counts that work, where the render's own
    time does not.
    """
    clocks = result["cpu_clocks"][1:] or result["cpu_clocks"]
    return (clocks[-1][1] - clocks[0][0]) / len(clocks)


FIGURES = (
    # heading, format, how to get it from a child's result
    ("cold s", "{:.2f}", lambda result: result["times"][0]),
    ("warm s", "{:.2f}", lambda result: warm(result["times"])),
    ("steady cpu s", "{:.2f}", steady_cpu),
    ("max KB", "{:.0f}", lambda result: max(result["sizes"]) / 1024),
    ("peak RSS MB", "{:.0f}", lambda result: result["peak_rss"]),
)


def report(results: dict[str, dict]) -> None:
    """Print one line per variant, each figure beside stock's from the same run, then the targets."""
    stock = results["stock"]
    heading = f"{'variant':<25}{'import s':>9}{'pages':>6}" + "".join(
        f"{name:>13}{'/stock':>7}" for name, _, _ in FIGURES) + f"{'private MB':>11}{'files MB':>9}"
    print(heading)
    for variant, result in results.items():
        line = f"{variant:<25}{result['import']:>9.2f}{page_count(result['path']):>6}"
        for _, form, figure in FIGURES:
            value, baseline = figure(result), figure(stock)
            line += f"{form.format(value):>13}{value / baseline:>7.2f}"
        print(line + f"{result.get('RssAnon', 0):>11.0f}{result.get('RssFile', 0):>9.0f}")
        if result["warm_up"] is not None:
            print(f"{'':<25}(warm_up() took {result['warm_up']:.2f} s before the first, cold, render)")
    print("cold: first render in a fresh process, after the import; warm: median wall time of the others;")
    print("steady cpu: CPU per dossier from the first warm render to the last, collection between renders")
    print("included; max KB: largest PDF of the runs (one customer per run); /stock: ratio to stock's")
    print("figure in this run; private / files MB: resident after the last render, private memory and")
    print("font and library files mapped (shared between processes through the page cache)")
    print("all warm times:")
    for variant, result in results.items():
        print(f"  {variant:<25}" + " ".join(f"{t:.2f}" for t in result["times"][1:]))
    dossier = results.get("dossier")
    if dossier:
        warm_s, peak = warm(dossier["times"]), dossier["peak_rss"]
        print(f"targets (dossier; stock in this run):"
              f" warm {warm_s:.2f} s ≤ {TARGET_WARM_S} s: {'met' if warm_s <= TARGET_WARM_S else 'NOT met'}"
              f" (stock {warm(stock['times']):.2f} s; steady cpu {steady_cpu(dossier):.2f} s,"
              f" stock {steady_cpu(stock):.2f} s);"
              f" peak RSS {peak:.0f} MB ≤ {TARGET_PEAK_RSS_MB} MB: {'met' if peak <= TARGET_PEAK_RSS_MB else 'NOT met'}"
              f" (stock {stock['peak_rss']:.0f} MB)")
    print("PDFs:", ", ".join(result["path"] for result in results.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="renders per variant (the first is cold)")
    parser.add_argument("--fonttools-runs", type=int, default=2, help="renders on the slow fontTools path")
    parser.add_argument("--no-fonttools", action="store_true", help="skip the fontTools variant")
    parser.add_argument("--out", type=Path, help="where to write the PDFs (default: a temporary folder)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--html", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--only", help="comma-separated variants to run besides stock (default: all)")
    parser.add_argument("--same-customer", action="store_true",
                        help="render customer 0 every time (a best case for Pango's own caches)")
    args = parser.parse_args()

    if args.child:
        serve(args.child, args.html, args.out)
        return

    from blueprints.archive.dossier_pdf import render_dossier_html
    from core.pdf import renderer

    out = args.out or Path(tempfile.mkdtemp(prefix="dossier-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    env = renderer.template_environment()
    for number in range(1 if args.same_customer else max(args.runs, args.fonttools_runs)):
        context, record = context_and_record(seed=number)
        (out / f"dossier-{number}.html").write_text(render_dossier_html(env, context))
        (out / f"record-{number}.json").write_text(json.dumps(record, ensure_ascii=False))

    variants = [v for v in VARIANTS if not (args.no_fonttools and v == "fonttools")]
    if args.only:
        # Stock is the baseline every figure is printed beside: it always runs.
        variants = [v for v in variants if v in args.only.split(",") or v == "stock"]
    runs = {v: args.fonttools_runs if v == "fonttools" else args.runs for v in variants}
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}; renders per variant: "
          + ", ".join(f"{v} {n}" for v, n in runs.items()))
    for variant in variants:
        print(f"  {variant:<25}{VARIANTS[variant]}")
    report(measure(variants, runs, out, out, args.same_customer))
    print("load average at the end: " + " ".join(f"{load:.2f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
