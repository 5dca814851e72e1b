"""Dictionaries of what an opening records, for its forms and every page that shows it: value → Chinese label."""

CHANNELS = {"onsite": "现场开户", "witness": "见证开户", "online": "网上开户"}
# Channels this release can open; the others appear disabled on the form.
ENABLED_CHANNELS = ("onsite", "witness")
CUSTOMER_TYPES = {"individual": "个人", "institution": "机构"}
# Business lines (业务条线) a complaint is filed under: the starting entries of the dictionary
# administrators keep (dictionary kind "complaint_category"); records keep the code.
COMPLAINT_CATEGORIES = {
    "brokerage": "经纪业务",
    "margin": "融资融券",
    "asset_management": "资产管理",
    "options": "期权",
    "account": "账户业务",
    "investment_advice": "投资顾问",
    "it_system": "交易系统",
    "staff_conduct": "人员服务",
    "other": "其他",
}
ENABLED_CUSTOMER_TYPES = ("individual",)
SEXES = {"M": "男", "F": "女"}

OCCUPATIONS = {
    "civil_servant": "党政机关、事业单位工作人员",
    "enterprise_manager": "企业管理人员",
    "professional": "专业技术人员",
    "office_staff": "办事人员和有关人员",
    "finance": "金融从业人员",
    "service": "商业、服务业人员",
    "agriculture": "农、林、牧、渔、水利业生产人员",
    "production": "生产、运输设备操作人员",
    "military": "军人",
    "self_employed": "个体工商户、私营业主",
    "freelancer": "自由职业者",
    "student": "学生",
    "retired": "离退休人员",
    "unemployed": "无业",
    "other": "其他",
}

EDUCATION = {
    "doctorate": "博士",
    "master": "硕士",
    "bachelor": "本科",
    "college": "大专",
    "secondary": "中专、高中",
    "junior": "初中及以下",
}

TAX_RESIDENCY = {
    "cn_only": "仅为中国税收居民",
    "non_cn": "仅为非居民",
    "both": "既是中国税收居民又是其他国家（地区）税收居民",
}

AGENT_RELATIONSHIPS = {
    "spouse": "配偶",
    "parent": "父母",
    "child": "子女",
    "sibling": "兄弟姐妹",
    "other_relative": "其他亲属",
    "other": "其他",
}

# How key information is changed (第十二条) and how the account is closed (第十三条).
CHANGE_METHODS = {
    "counter": "本人持有效身份证件到营业部柜台办理",
    "witness": "由本公司见证人员见证办理",
    "online": "凭有效数字证书通过网上业务系统办理",
}
CLOSURE_METHODS = {
    "counter": "本人持有效身份证件到营业部柜台办理",
    "witness": "由本公司见证人员见证办理",
    "online": "凭有效数字证书通过网上业务系统办理",
}

# Agreements signed at opening (第九、十条); the customer signs every one.
AGREEMENTS = {
    "brokerage": "《证券交易委托代理协议书》",
    "depository": "《客户交易结算资金第三方存管协议》",
    "online_trading": "《网上证券委托协议》",
    "privacy": "《个人信息处理授权及告知书》",
}

DISCLOSURE_VERSION = "风险揭示书 2026 版"

# Why a clerk voids (作废) an application; the reason stays in its history.
WITHDRAW_REASONS = {
    "customer_gave_up": "客户放弃开户",
    "duplicate": "重复录入",
    "cannot_complete": "资料不全，无法继续办理",
    "other": "其他原因",
}
