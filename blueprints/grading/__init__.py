"""Classification and grading (分类分级): holdings and prices import, valuation, grade rules."""
