"""Staff roles (岗位) and what each may see."""
import enum


class Role(enum.StrEnum):
    CLERK = "clerk"
    REVIEWER = "reviewer"
    WITNESS = "witness"
    MARKETING = "marketing"
    RETURN_VISIT = "return_visit"
    ARCHIVIST = "archivist"
    BRANCH_MANAGER = "branch_manager"
    HQ_ADMIN = "hq_admin"
    CUSTOMER_MANAGER = "customer_manager"
    BROKER = "broker"


ROLE_LABELS = {
    Role.CLERK: "柜台业务岗",
    Role.REVIEWER: "复核岗",
    Role.WITNESS: "开户见证人员",
    Role.MARKETING: "营销人员",
    Role.RETURN_VISIT: "回访岗",
    Role.ARCHIVIST: "档案管理员",
    Role.BRANCH_MANAGER: "营业部负责人",
    Role.HQ_ADMIN: "总部管理员",
    Role.CUSTOMER_MANAGER: "客户经理",
    Role.BROKER: "证券经纪人",
}

# Who opens accounts: counter clerks on site, witness staff off site (见证开户).
OPENING_ROLES = (Role.CLERK, Role.WITNESS)

# Roles whose work needs the full ID number on screen (checking it against the document).
ROLES_SEEING_FULL_ID = frozenset({Role.CLERK, Role.REVIEWER, Role.WITNESS})

# Roles that see only the customers assigned to them (customer managers and brokers).
ROLES_SEEING_OWN_CUSTOMERS = frozenset({Role.CUSTOMER_MANAGER, Role.BROKER})

# Roles that may never open, close, change or transfer a customer's account
# (证券经纪人管理暂行规定 第十三条: brokers; marketing staff likewise).
ROLES_NEVER_HANDLING_ACCOUNTS = frozenset({Role.BROKER, Role.MARKETING})
