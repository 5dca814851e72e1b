"""The ID-expiry restriction (证件过期限制): an expired, unrenewed document restricts business until 完善资料."""
