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

# Who may show a masked value of a customer in full on screen (显示完整), field by field; each showing
# writes an audit row (core/reveal.py). Clerks, reviewers and witnesses see ID numbers in full already.
ROLES_REVEALING = {
    # Return-visit agents confirm the customer's identity on the call; branch managers supervise.
    "id_number": frozenset({Role.RETURN_VISIT, Role.BRANCH_MANAGER}),
    # Calling the customer: counter work, the return visit, the manager and the customer's own manager.
    "mobile": frozenset({Role.CLERK, Role.REVIEWER, Role.WITNESS, Role.RETURN_VISIT, Role.BRANCH_MANAGER,
                         Role.CUSTOMER_MANAGER}),
    # Sending the customer documents by post.
    "address": frozenset({Role.CLERK, Role.REVIEWER, Role.BRANCH_MANAGER, Role.CUSTOMER_MANAGER}),
}
