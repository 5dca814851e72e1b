"""What a customer's dossier contains: the machine-readable record and its printed sections."""
from blueprints.opening import scoring
from blueprints.dictionaries import services as dictionaries
from blueprints.opening.workflow import STATUS_LABELS
from blueprints.return_visit.models import CHECK_ITEMS, OUTCOME_LABELS
from blueprints.return_visit.rules import CASE_STATUS_LABELS
from blueprints.changes.services import display_value
from core import choices, masking
from core.reference import ID_TYPE_LABELS

SECTION_TITLES = {
    "application": "开户申请表",
    "disclosure": "风险揭示书签署确认",
    "suitability": "适当性评估结果及答卷",
    "agreements": "协议签署及约定事项",
    "review": "复核记录",
    "witness": "见证记录",
    "return_visit": "回访记录",
    "accounts": "账户信息",
    "history": "业务流水",
    "documents": "证件影像复核记录",
    "scans": "影像资料",
    "changes": "客户资料变更记录",
}


def _label(mapping: dict, value, default: str = "—") -> str:
    return mapping.get(value, default) if value else default


def build_sections(record: dict, scans: list[dict]) -> list[dict]:
    """Turn the record (see services.dossier_record) into the template's sections."""
    sections = []
    for application in record["applications"]:
        identity, contact, agent = application["identity"], application["contact"], application["agent"]
        rows = [
            ("申请编号", application["reference"]), ("开户方式", _label(choices.CHANNELS, application["channel"])),
            ("客户类型", _label(choices.CUSTOMER_TYPES, application["customer_type"])),
            ("状态", _label(STATUS_LABELS, application["status"])),
            ("姓名", identity.get("name")), ("证件类型", _label(ID_TYPE_LABELS, identity.get("id_type"))),
            ("证件号码", masking.mask_id_number(identity.get("id_number"))),
            ("性别", _label(choices.SEXES, identity.get("sex"))), ("民族", identity.get("ethnicity") or "—"),
            ("证件地址", masking.mask_address(identity.get("address"))), ("签发机关", identity.get("authority")),
            ("证件有效期", f"{identity.get('valid_from')} 至 {identity.get('valid_to') or '长期'}"),
            ("手机号码", masking.mask_mobile(contact.get("mobile"))), ("联系地址", masking.mask_address(contact.get("address"))),
            ("邮政编码", contact.get("postcode")), ("职业", dictionaries.label("occupation", contact.get("occupation"), "—")),
            ("学历", _label(choices.EDUCATION, contact.get("education"))), ("工作单位", contact.get("employer") or "—"),
            ("税收居民身份", _label(choices.TAX_RESIDENCY, contact.get("tax_residency"))),
            ("代理人", f"{agent['name']}（{_label(choices.AGENT_RELATIONSHIPS, agent.get('relationship'))}，"
                       f"公证书 {agent.get('notarization_no') or '—'}）" if agent.get("has_agent") else "客户本人办理"),
        ]
        verification = application.get("verification")
        if verification:
            rows.append(("公民身份核查", f"{verification['result_label']}（{verification['checked_at']}，"
                                        f"{'模拟核查' if verification['simulated'] else verification['provider']}）"))
        sections.append({"key": f"application-{application['reference']}", "title": SECTION_TITLES["application"],
                         "rows": rows})
        witness = application.get("witness")
        if witness:
            sections.append({"key": f"witness-{application['reference']}", "title": SECTION_TITLES["witness"], "rows": [
                ("面见客户的工作人员", "、".join(n for n in witness["present_names"] if n)),
                ("开户见证人员", witness.get("witness_name")),
                ("见证方式", f"远程实时视频（会话 {witness.get('video_reference')}）" if witness.get("remote") else "现场见证"),
                ("见证地点", witness.get("place")),
                ("定位", f"{witness['latitude']:.5f}, {witness['longitude']:.5f}" if witness.get("latitude") is not None else "未授权定位"),
                ("出示工作证件", "是" if witness.get("work_id_shown") else "否"),
                ("人脸影像采集同意", "已单独同意" if witness.get("photo_consent") else "—"),
            ]})
        disclosure = application["disclosure"]
        sections.append({"key": f"disclosure-{application['reference']}", "title": SECTION_TITLES["disclosure"],
                         "rows": [("揭示书版本", disclosure.get("version")), ("讲解人员", disclosure.get("explained_by_name")),
                                  ("客户签字确认", "是" if disclosure.get("customer_acknowledged") else "否"),
                                  ("代理人签字确认", "是" if disclosure.get("agent_acknowledged") else "不适用")]})
        assessment = application.get("assessment")
        if assessment:
            sections.append({
                "key": f"suitability-{application['reference']}", "title": SECTION_TITLES["suitability"],
                "rows": [("问卷版本", assessment["questionnaire"]), ("得分", str(assessment["score"])),
                         ("风险承受能力", scoring.class_label(assessment["investor_class"], assessment["is_lowest"])),
                         ("评估人", assessment["assessor"]), ("评估日期", assessment["assessed_at"]),
                         ("有效期至", assessment["expires_on"])],
                "tables": [{"headers": ["题号", "题目", "所选答案", "得分"], "widths": ["8%", "52%", "32%", "8%"],
                            "rows": [[str(i), a["question"], a["answer"], str(a["score"])]
                                     for i, a in enumerate(assessment["answers"], 1)]}],
            })
        agreements = application["agreements"]
        sections.append({"key": f"agreements-{application['reference']}", "title": SECTION_TITLES["agreements"],
                         "rows": [(choices.AGREEMENTS[a], "已签署") for a in agreements.get("agreements", [])] + [
                             ("关键信息变更方式", _label(choices.CHANGE_METHODS, agreements.get("change_method"))),
                             ("账户注销方式", _label(choices.CLOSURE_METHODS, agreements.get("closure_method"))),
                             ("存管银行卡", masking.mask_bank_card(agreements.get("bank_card")))]})
        if application["decisions"]:
            sections.append({"key": f"review-{application['reference']}", "title": SECTION_TITLES["review"],
                             "tables": [{"headers": ["时间", "复核人", "操作员", "结论", "意见"],
                                         "widths": ["20%", "14%", "14%", "10%", "42%"],
                                         "rows": [[d["decided_at"], d["reviewer"], d["operator"],
                                                   "通过" if d["decision"] == "approve" else "退回", d["reason"] or "—"]
                                                  for d in application["decisions"]]}]})
        if application["return_visits"]:
            sections.append({"key": f"visit-{application['reference']}", "title": SECTION_TITLES["return_visit"],
                             "tables": [{"headers": ["次数", "时间", "回访人", "结果", "确认事项", "记录"],
                                         "widths": ["7%", "17%", "11%", "15%", "30%", "20%"],
                                         "rows": [[str(v["attempt_no"]), v["visited_at"], v["agent"],
                                                   _label(OUTCOME_LABELS, v["outcome"]),
                                                   "；".join(CHECK_ITEMS[i] for i in v["items"]) or "—",
                                                   v["notes"] or "—"] for v in application["return_visits"]]}]})
        if application.get("documents"):
            sections.append({"key": f"documents-{application['reference']}", "title": SECTION_TITLES["documents"],
                             "tables": [{"headers": ["影像", "版本", "采集", "复核", "意见"],
                                         "widths": ["24%", "10%", "22%", "22%", "22%"],
                                         "rows": [[d["label"], f"第 {d['version']} 版" + ("" if d["current"] else "（已替换）"),
                                                   f"{d['uploaded_by'] or '—'} {d['uploaded_at']}",
                                                   f"{d['review_label'] or '—'} {d['reviewed_by'] or ''} {d['reviewed_at'] or ''}".strip(),
                                                   d["review_reason"] or "—"] for d in application["documents"]]}]})
        sections.append({"key": f"history-{application['reference']}", "title": SECTION_TITLES["history"],
                         "tables": [{"headers": ["时间", "从", "到", "操作人", "原因"],
                                     "widths": ["20%", "17%", "17%", "14%", "32%"],
                                     "rows": [[h["at"], _label(STATUS_LABELS, h["from"]), _label(STATUS_LABELS, h["to"]),
                                               h["actor"], h["reason"] or "—"] for h in application["history"]]
                                     + [[h["at"], "回访·" + _label(CASE_STATUS_LABELS, h["from"], "账户开立"),
                                         f"回访·{_label(CASE_STATUS_LABELS, h['to'])}（第 {h['round_no']} 轮）",
                                         h["actor"], h["reason"] or "—"]
                                        for h in application.get("return_visit_history", [])]}]})
    if record.get("changes"):
        sections.append({"key": "changes", "title": SECTION_TITLES["changes"],
                         "tables": [{"headers": ["业务", "修改内容（修改前 → 修改后）", "经办 / 复核", "同步系统", "状态"],
                                     "widths": ["18%", "34%", "16%", "20%", "12%"],
                                     "rows": [[f"{c['reference']} {c['kind_label']} {c['submitted_at'] or ''}",
                                               "；".join(f"{f['label']}：{display_value(f['field'], f['before']) or '（空）'} → "
                                                        f"{display_value(f['field'], f['after']) or '（空）'}" for f in c["fields"])
                                               or ("确认关联关系 " + "、".join(c["confirmed_links"] or [])),
                                               f"{c['clerk'] or '—'} / {c['reviewer'] or '—'}",
                                               "；".join(f"{s['label']} {s['state']}" for s in c["systems"]) or "—",
                                               c["status_label"]] for c in record["changes"]]}]})
    if record["accounts"]:
        sections.append({"key": "accounts", "title": SECTION_TITLES["accounts"],
                         "tables": [{"headers": ["账户", "号码", "状态", "说明"], "widths": ["22%", "26%", "14%", "38%"],
                                     "rows": [[a["kind"], a["number"], a["status"], a["note"]] for a in record["accounts"]]}]})
    if scans:
        sections.append({"key": "scans", "title": SECTION_TITLES["scans"], "scans": scans})
    return sections
