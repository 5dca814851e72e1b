"""Retention of customer records (保管期限): the due date, legal holds, and the purge when both allow it."""
