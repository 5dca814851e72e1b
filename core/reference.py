"""Reference data every part of the system names: the depository banks."""

BANKS = {
    "ICBC": "中国工商银行",
    "ABC": "中国农业银行",
    "BOC": "中国银行",
    "CCB": "中国建设银行",
    "BOCOM": "交通银行",
    "CMB": "招商银行",
}
