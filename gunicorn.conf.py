"""gunicorn settings for every deployment, the demo included: `gunicorn -c gunicorn.conf.py "app:create_app()"`.

Each value comes from the environment with a default for one machine; scripts/serve starts gunicorn
with this file beside the background workers. Behind a reverse proxy (nginx terminating HTTPS) set
PROXY_FIX=1 and SESSION_COOKIE_SECURE=1 for the app (see docs/deploy.md), and bind to the loopback or
a private address.
"""
import multiprocessing
import os

bind = os.environ.get("BIND") or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
# Sync workers: each request holds one process, whose time is spent in Python and the database.
# Two per core keeps the cores busy while some wait on the database or a client.
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2)
threads = int(os.environ.get("WEB_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
# A request still running after this many seconds is stopped and its worker replaced.
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (plus jitter), so a slow leak never grows for long.
max_requests = 2000
max_requests_jitter = 200
# Each worker builds its own app: nothing (database pool, open files) is shared across a fork.
preload_app = False
# One line per request to stdout. URLs never carry personal values (they travel in request bodies, or
# stay on the server behind a kept search's key); the line leaves out the query string all the same
# (%(U)s is the path alone), so that whatever a user types into a list's filter is never logged.
accesslog = os.environ.get("ACCESS_LOG", "-")
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
limit_request_line = 4094
limit_request_fields = 100
proc_name = "kyc-web"
# No control socket: it lives at one path per user, which two instances on one host would share.
control_socket_disable = True

# gunicorn names itself in every answer's Server header (gunicorn.http.wsgi.Response reads the module's
# SERVER each time); the app's answers say only "kyc" (app.SERVER_HEADER), under gunicorn as under the
# development server. Set on the module that reads it: `gunicorn.SERVER` was already copied there.
import gunicorn.http.wsgi  # noqa: E402

gunicorn.http.wsgi.SERVER = "kyc"
gunicorn.http.wsgi.SERVER_SOFTWARE = "kyc"
