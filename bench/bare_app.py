"""The baseline of the throughput benchmark: a bare Flask app rendering one Jinja2 page, nothing else.

Served by gunicorn with the project's gunicorn.conf.py, so the only difference to a page of the app
is the app's own work: login, session, database, audit, templates.
"""
from flask import Flask, render_template
from jinja2 import DictLoader

app = Flask(__name__)

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1><table>{% for row in rows %}<tr><td>{{ row.no }}</td><td>{{ row.name }}</td>
<td>{{ row.branch }}</td></tr>{% endfor %}</table></body></html>"""
ROWS = [{"no": f"C0101{index:06d}", "name": "张建国", "branch": "北京朝阳门营业部"} for index in range(50)]


app.jinja_loader = DictLoader({"page.html": PAGE})  # compiled once, as the app's templates are


@app.route("/")
def bare():
    return render_template("page.html", title="客户查询", rows=ROWS)


@app.route("/health")
def health():
    return "ok"
