"""The audit trail page (审计日志): who did what to which record, when and from where, for HQ and branch managers."""
