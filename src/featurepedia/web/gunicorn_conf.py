"""gunicorn's configuration for the site's web processes (``gunicorn -c python:featurepedia.web.gunicorn_conf``).

Every value comes from Featurepedia's settings, so the Procfile line stays short and the same everywhere:
FEATUREPEDIA_WEB_WORKERS processes of FEATUREPEDIA_THREADS threads each (gthread: a thread waiting on the
database or the inference process does not hold a core), FEATUREPEDIA_WEB_TIMEOUT for a stuck request, and
the access log on stdout. The bind address is given on the command line (``--bind``).

The app is loaded once in the master before forking (``preload_app``): workers start fast and share its
memory pages. That is safe because loading the app opens no connection (database, Redis and the inference
client all connect on first use), and :func:`post_fork` closes any a hook opened, so no socket is ever shared
between processes.
"""

from __future__ import annotations

from typing import Any

from featurepedia.settings import get_settings

_s = get_settings()

wsgi_app = "featurepedia.web.wsgi:application"
workers = _s.web_workers
worker_class = "gthread"
threads = _s.threads
timeout = _s.web_timeout
graceful_timeout = 30
keepalive = 5  # seconds an idle keep-alive connection from the proxy stays open
preload_app = True
# A worker is replaced (gracefully) after this many requests, with jitter so they do not all restart at once:
# a bound on any slow growth of memory over days.
max_requests = 20_000
max_requests_jitter = 2_000
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
proc_name = "featurepedia-web"
# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), which two stacks on
# one machine would fight over; the stack is managed by signals instead.
control_socket_disable = True


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker: drop connections inherited from the master (there should be none)."""
    from django.core.cache import caches
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()
        if conn.alias in getattr(conn, "_connection_pools", {}):
            conn.close_pool()
    caches.close_all()
