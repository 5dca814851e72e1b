"""Measure how long a change confirmation slip (确认单) takes to render with render_change_slip.

Usage:
    .venv/bin/python bench/change_slip.py [--runs 20] [--rows 12] [--kind key] [--warm-up] [--out FILE]

Renders the same one-page slip (twelve changed rows by default, two of them
long enough to wrap, and a name with an Extension B character, 刘𠀀, so the
fallback fonts are in play) --runs times in this process. The first render is
"cold": it imports WeasyPrint, checks the machine and opens the fonts, unless
--warm-up runs the dossier's warm_up() first, as a worker does after it starts.
The others are "warm" and their median is the per-render time to expect at
the counter.
"""
import argparse
import io
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DECIDED_AT = datetime(2026, 12, 2, 6, 5, tzinfo=timezone.utc)
LONG_ADDRESS = "北京市朝阳区朝阳门外大街一百二十三号院四号楼二单元一千五百零一室（近地铁朝阳门站东南口）"
CHANGES = [
    ("姓名", "刘𠀀", "刘䶮"),
    ("联系地址", LONG_ADDRESS, "北京市朝阳区建国路 88 号 SOHO 现代城 5 号楼 1201 室"),
    ("电子邮箱", "averyveryveryverylongmailboxnamewithoutanybreaks@example-mail-provider.com.cn", None),
    ("手机号码", "138****8000", "139****0000"),
    ("固定电话", None, "010-6512****"),
    ("邮政编码", "100010", "100022"),
    ("职业", "专业技术人员", "企业管理人员"),
    ("学历", "本科", "硕士研究生"),
    ("工作单位", "北京某某科技有限公司", "北京某某咨询有限公司"),
    ("税收居民身份", "仅为中国税收居民", "仅为中国税收居民"),
    ("证件有效期截止日", "2026-10-31", "2046-10-31"),
    ("紧急联系人", "刘某", "王某"),
]


def make_slip(rows: int, kind: str) -> dict:
    changes = [{"label": label, "before": before, "after": after}
               for label, before, after in (CHANGES * (rows // len(CHANGES) + 1))[:rows]]
    return {
        "kind": kind,
        "reference": "BG20261202000123",
        "firm_name": "华夏远景证券股份有限公司",
        "branch_name": "北京朝阳门营业部",
        "decided_at": DECIDED_AT,
        "customer": {"customer_no": "C110105202600731", "name": "刘䶮", "id_type_label": "居民身份证",
                     "id_number_masked": "1101**********123X"},
        "changes": changes,
        "systems": [{"label": "中国结算一码通", "state": "未发送"}, {"label": "股东系统", "state": "处理成功"},
                    {"label": "基金系统", "state": "处理成功"}],
        "clerk_name": "王小明",
        "reviewer_name": "李复核",
        "simulated": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="renders in all (the first is cold)")
    parser.add_argument("--rows", type=int, default=12, help="changed rows on the slip")
    parser.add_argument("--kind", default="key", help="ordinary, key, renewal, upgrade or link_confirmation")
    parser.add_argument("--warm-up", action="store_true", help="run the dossier's warm_up() before the first render")
    parser.add_argument("--out", type=Path, help="write the last PDF here")
    args = parser.parse_args()

    started = time.perf_counter()
    from pypdf import PdfReader

    from blueprints.archive import dossier_pdf
    from blueprints.changes import slips
    from core.pdf import renderer

    warm_up = None
    if args.warm_up:
        begun = time.perf_counter()
        dossier_pdf.warm_up(renderer.template_environment())
        warm_up = time.perf_counter() - begun
    imported = time.perf_counter() - started

    slip = make_slip(args.rows, args.kind)
    times, data = [], b""
    for _ in range(max(args.runs, 1)):
        begun = time.perf_counter()
        data = slips.render_change_slip(slip)
        times.append(time.perf_counter() - begun)
    if args.out:
        args.out.write_bytes(data)

    pages = len(PdfReader(io.BytesIO(data)).pages)
    warm = times[1:] or times
    print(f"slip: kind {args.kind}, {args.rows} changed rows, {pages} page(s), {len(data) / 1024:.0f} KB")
    print(f"import + setup {imported:.2f} s" + (f" (warm_up() {warm_up:.2f} s)" if warm_up is not None else ""))
    print(f"cold render    {times[0] * 1000:.0f} ms")
    print(f"warm render    median {statistics.median(warm) * 1000:.0f} ms, min {min(warm) * 1000:.0f} ms, "
          f"max {max(warm) * 1000:.0f} ms over {len(warm)} renders")


if __name__ == "__main__":
    main()
