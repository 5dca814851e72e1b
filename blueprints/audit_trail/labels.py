"""Chinese words for audit actions: each action's category by its first part, a few actions by name."""

# The first part of an action ("customer.view" → "customer") names what it was done to.
CATEGORY_LABELS = {
    "auth": "登录与会话",
    "access": "拒绝访问",
    "page": "页面查阅",
    "application": "开户申请",
    "accounts": "账户开立",
    "review": "复核",
    "return_visit": "回访",
    "customer": "客户资料",
    "customers": "客户列表与导出",
    "customer_change": "资料变更",
    "closure": "销户",
    "reactivation": "激活",
    "archive": "电子档案",
    "retention": "档案保管",
    "service": "服务记录",
    "complaint": "投诉",
    "handover": "客户移交",
    "assignment": "客户经理分配",
    "managers": "客户经理",
    "grading": "分级与导入",
    "suitability": "适当性",
    "product": "产品",
    "statistics": "统计",
    "reader": "读卡器",
    "staff": "用户管理",
    "branch": "营业部",
    "grant": "总部赋权",
    "dictionary": "数据字典",
    "outbox": "外部系统报送",
    "exceptions": "异常处理",
    "csdc": "中登查询",
    "reminders": "提醒",
    "notifications": "通知",
    "home": "工作台",
    "audit": "审计日志",
}

# Actions worth their own words: security events and what shows or takes out customer data.
ACTION_LABELS = {
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.logout": "退出登录",
    "auth.locked": "账户锁定",
    "auth.throttled": "登录限速",
    "auth.session_expired": "会话超时",
    "auth.sessions_ended": "结束会话",
    "auth.verify": "复核身份验证",
    "auth.failures_told": "告知登录失败",
    "access.denied": "拒绝访问",
    "page.read": "查阅页面",
    "customer.reveal": "显示完整信息",
    "customer.view": "查看客户",
    "customer.search": "查询客户",
    "customers.list": "客户列表",
    "customers.export": "导出客户列表",
    "customers.export.refused": "导出被拒绝",
    "statistics.export": "导出统计",
    "archive.export_download": "下载档案导出",
    "archive.search": "档案查询",
    "staff.create": "新建用户",
    "staff.update": "修改用户",
    "staff.enable": "启用/停用用户",
    "staff.facts_update": "修改任职信息",
    "staff.password_reset": "重置密码",
    "staff.password_changed": "修改密码",
    "grant.give": "赋权",
    "grant.withdraw": "撤销赋权",
    "grant.review": "确认赋权",
    "retention.hold_placed": "设置保全",
    "retention.hold_lifted": "解除保全",
    "retention.purged": "到期销毁",
    "audit.trail_view": "查阅审计日志",
}


def category_of(action: str) -> str:
    return action.split(".", 1)[0]


def label(action: str) -> str:
    """The action in words: its own label, else its category's, else the code itself."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    return CATEGORY_LABELS.get(category_of(action), action)
