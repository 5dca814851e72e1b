"""Reminders (提醒) on the home page: expiring ID documents and assessments, birthdays, and what others add."""
