import re
from tests.conftest import csrf_token_from

def test_scratch(app, client):
    for nxt in ["https://evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "javascript:alert(1)", "http:/evil.example", "/opening/"]:
        c = app.test_client()
        page = c.get("/auth/login")
        tok = csrf_token_from(page.get_data(as_text=True))
        r = c.post("/auth/login", query_string={"next": nxt}, data={"username": "clerk", "password": "Demo@2026", "csrf_token": tok})
        print(repr(nxt), r.status_code, repr(r.headers.get("Location")))
    for rule in app.url_map.iter_rules():
        print(rule.endpoint, rule.rule, rule.methods, rule.arguments)
