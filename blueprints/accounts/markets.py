"""The securities markets a sub-account belongs to, with the Chinese name of its account."""

MARKETS = {"SH": "上海A股账户", "SZ": "深圳A股账户"}
