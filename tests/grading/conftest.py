"""Fixtures for grading tests. An import's job runs inside the request that queues it (JOBS_EAGER)."""
