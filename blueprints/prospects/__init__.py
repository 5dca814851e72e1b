"""Potential customers (潜在客户): people the branch knows before any account exists."""
