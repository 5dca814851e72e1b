"""Change confirmation slips (确认单): real WeasyPrint output, read back with pypdf."""
import datetime as dt
import io
import json
import re

import pytest
from pypdf import PdfReader

from blueprints.changes import slips

DECIDED_AT = dt.datetime(2026, 12, 2, 6, 5, tzinfo=dt.timezone.utc)  # 14:05 in Beijing
LONG_ADDRESS = "北京市朝阳区朝阳门外大街一百二十三号院四号楼二单元一千五百零一室（近地铁朝阳门站东南口）"
LONG_EMAIL = "averyveryveryverylongmailboxnamewithoutanybreaks@example-mail-provider.com.cn"

BUSINESS_NAMES = {
    "key": "关键信息变更",
    "renewal": "证件有效期更新",
    "upgrade": "身份证号码升位",
    "link_confirmation": "关联关系确认",
}

CHANGES = {
    "ordinary": [{"label": "手机号码", "before": "138****8000", "after": "139****0000"},
                 {"label": "联系地址", "before": "北京市东城区东四十条 8 号", "after": "北京市朝阳区建国路 88 号"},
                 {"label": "职业", "before": "专业技术人员", "after": "企业管理人员"}],
    "key": [{"label": "姓名", "before": "刘𠀀", "after": "刘䶮"}],  # 𠀀 U+20000, outside the BMP
    "renewal": [{"label": "证件有效期截止日", "before": "2026-10-31", "after": "2046-10-31"}],
    "upgrade": [{"label": "证件号码", "before": "110105******123", "after": "110105********123X"}],
    "link_confirmation": [{"label": "深A 0123456789", "before": "未确认", "after": "已确认"}],
}


def make_slip(kind="ordinary", *, changes=None, systems=None, simulated=False) -> dict:
    return {
        "kind": kind,
        "reference": f"BG20261202{sorted(slips.KINDS).index(kind):06d}",
        "firm_name": "华夏远景证券股份有限公司",
        "branch_name": "北京朝阳门营业部",
        "decided_at": DECIDED_AT,
        "customer": {"customer_no": "C110105202600731", "name": "刘䶮", "id_type_label": "居民身份证",
                     "id_number_masked": "1101**********123X"},
        "changes": CHANGES[kind] if changes is None else changes,
        "systems": [{"label": "中国结算一码通", "state": "未发送"}, {"label": "股东系统", "state": "处理成功"},
                    {"label": "基金系统", "state": "处理失败"}] if systems is None else systems,
        "clerk_name": "王小明",
        "reviewer_name": "李复核",
        "simulated": simulated,
    }


def read(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


_rendered = {}


def rendered(kind: str, simulated: bool = False) -> tuple[dict, PdfReader, str]:
    """Render each (kind, simulated) once per run: a slip takes a fraction of a second, but adds up."""
    if (kind, simulated) not in _rendered:
        slip = make_slip(kind, simulated=simulated)
        _rendered[kind, simulated] = (slip, *read(slips.render_change_slip(slip)))
    return _rendered[kind, simulated]


def test_ordinary_slip_has_its_title_and_no_business_name():
    _, reader, text = rendered("ordinary")

    assert "客户普通资料修改确认单" in text and "客户关键信息变更确认单" not in text
    assert not any(name in text for name in BUSINESS_NAMES.values())
    assert len(reader.pages) == 1


@pytest.mark.parametrize("kind", sorted(BUSINESS_NAMES))
def test_key_slips_print_the_key_title_and_their_business_name(kind):
    _, _, text = rendered(kind)

    assert "客户关键信息变更确认单" in text and "客户普通资料修改确认单" not in text
    assert f"业务名称：{BUSINESS_NAMES[kind]}" in text


@pytest.mark.parametrize("kind", sorted(slips.KINDS))
def test_every_slip_prints_reference_customer_changes_and_systems(kind):
    slip, _, text = rendered(kind)

    assert slip["reference"] in text
    assert "C110105202600731" in text and "刘䶮" in text and "1101**********123X" in text
    assert "项目" in text and "修改前" in text and "修改后" in text
    for change in slip["changes"]:
        assert change["label"] in text and change["before"] in text and change["after"] in text
    for system in slip["systems"]:
        assert re.search(rf"{system['label']}\s+{system['state']}", text), system


def test_decision_time_prints_in_beijing_time():
    _, _, text = rendered("ordinary")

    assert "2026年12月02日 14:05" in text


def test_signature_lines_and_declaration_are_printed():
    _, _, text = rendered("key")

    assert "本人确认以上信息真实、准确、完整，并已知晓" in text
    assert "客户签名" in text and "营业部盖章" in text
    assert "经办人：王小明" in text and "复核人：李复核" in text
    assert text.count("日期：") == 3


@pytest.mark.parametrize("kind", ["ordinary", "key"])
def test_simulated_marker_only_when_an_answer_was_simulated(kind):
    _, _, real = rendered(kind, simulated=False)
    _, _, simulated = rendered(kind, simulated=True)

    assert "模拟" not in real
    assert slips.SIMULATED_NOTE in simulated


def test_character_outside_the_bmp_prints():
    _, _, text = rendered("key")

    assert "刘𠀀" in text


def test_none_and_empty_values_print_as_empty():
    slip = make_slip(changes=[{"label": "电子邮箱", "before": None, "after": "liu@example.cn"},
                              {"label": "邮政编码", "before": "100010", "after": ""}])
    _, text = read(slips.render_change_slip(slip))

    assert re.search(r"电子邮箱\s+（空）\s+liu@example\.cn", text)
    assert re.search(r"邮政编码\s+100010\s+（空）", text)


def test_no_systems_says_nothing_was_synced():
    _, text = read(slips.render_change_slip(make_slip(systems=[])))

    assert "本次变更未同步外部系统" in text


def test_twelve_changed_rows_with_long_values_stay_on_one_page():
    changes = [{"label": "联系地址", "before": LONG_ADDRESS, "after": LONG_ADDRESS[::-1]},
               {"label": "电子邮箱", "before": LONG_EMAIL, "after": None}]
    changes += [{"label": f"项目{number}", "before": f"旧值{number}", "after": f"新值{number}"} for number in range(10)]
    reader, text = read(slips.render_change_slip(make_slip(changes=changes, simulated=True)))

    assert len(reader.pages) == 1
    flat = re.sub(r"\s+", "", text)
    assert LONG_ADDRESS in flat and LONG_EMAIL in flat  # wrapped inside its cell, nothing cut off
    assert "项目9" in text and "营业部盖章" in text and "第 1 页 共 1 页" in text


def test_slip_is_pdf_a3b_with_the_slip_data_attached():
    slip, reader, _ = rendered("renewal")

    xmp = reader.xmp_metadata.stream.get_data().decode("utf-8", "replace")
    assert "pdfaid:part" in xmp
    [data] = reader.attachments["slip.json"]
    attached = json.loads(data)
    assert attached["kind"] == "renewal" and attached["reference"] == slip["reference"]
    assert attached["decided_at"] == DECIDED_AT.isoformat()
    assert attached["changes"] == slip["changes"] and attached["simulated"] is False


def test_slip_html_refers_to_nothing_outside_itself():
    html = slips.render_change_slip_html(make_slip(simulated=True))

    assert "://" not in html and "@import" not in html and "<link" not in html


def test_unknown_kind_and_naive_time_are_refused():
    with pytest.raises(ValueError):
        slips.slip_context({**make_slip(), "kind": "closure"})
    with pytest.raises(ValueError):
        slips.slip_context({**make_slip(), "decided_at": DECIDED_AT.replace(tzinfo=None)})


def test_the_institution_signature_line_prints_only_for_institutions():
    individual = make_slip("key")
    institution = make_slip("key")
    institution["customer"] = dict(institution["customer"], customer_type="institution")
    _, text = read(slips.render_change_slip(individual))
    assert "机构客户须加盖单位公章" not in text and "客户签名" in text
    _, text = read(slips.render_change_slip(institution))
    assert "机构客户须加盖单位公章及法定代表人签章" in text
