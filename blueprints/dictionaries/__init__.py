"""Dictionaries (数据字典) HQ administrators keep: region, industry, occupation, customer type."""
