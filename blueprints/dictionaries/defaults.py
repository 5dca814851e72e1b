"""The entries each dictionary starts with; the occupation and customer-type codes are those records already store."""
from core import choices

KINDS = {
    "occupation": "职业",
    "industry": "行业",
    "region": "地区",
    "customer_type": "客户类型",
    "complaint_category": "投诉业务类别",
}

# 国民经济行业分类 GB/T 4754-2017, its twenty sections (门类).
INDUSTRIES = {
    "A": "农、林、牧、渔业", "B": "采矿业", "C": "制造业", "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业", "F": "批发和零售业", "G": "交通运输、仓储和邮政业", "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业", "J": "金融业", "K": "房地产业", "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业", "N": "水利、环境和公共设施管理业", "O": "居民服务、修理和其他服务业",
    "P": "教育", "Q": "卫生和社会工作", "R": "文化、体育和娱乐业", "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}

# Provincial-level divisions by their GB/T 2260 codes.
REGIONS = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区", "21": "辽宁省",
    "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省",
    "35": "福建省", "36": "江西省", "37": "山东省", "41": "河南省", "42": "湖北省", "43": "湖南省",
    "44": "广东省", "45": "广西壮族自治区", "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省",
    "53": "云南省", "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}


def entries() -> dict[str, dict[str, str]]:
    """Every kind's starting entries, in order: code → label."""
    return {"occupation": dict(choices.OCCUPATIONS), "industry": INDUSTRIES, "region": REGIONS,
            "customer_type": dict(choices.CUSTOMER_TYPES), "complaint_category": dict(choices.COMPLAINT_CATEGORIES)}
