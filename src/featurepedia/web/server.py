"""Serving the site from the command line (``featurepedia serve`` and ``demo``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from featurepedia.settings import get_settings

Say = Callable[[str], None]  # how a long-running command tells its user what it is doing (the CLI prints)
log = logging.getLogger(__name__)


def serve(host: str, port: int, say: Say) -> None:
    """Serve the site with waitress (multi-threaded, pure Python) until interrupted; Django must be set up."""
    server = make_server(host, port)
    say(f"Featurepedia is at http://{host}:{port}/  (Ctrl+C stops it)")
    warm_inference()
    logging.basicConfig()  # waitress's own warnings (a full task queue) reach the terminal, as waitress.serve does
    server.run()


def make_server(host: str, port: int) -> Any:  # waitress's server classes carry no types
    """The waitress server of ``featurepedia serve`` (not yet running): the same WSGI application, and so the
    same middleware and content security policy, as the production stack's gunicorn."""
    from waitress.server import create_server

    from featurepedia.web.wsgi import application

    return create_server(application, host=host, port=port, threads=get_settings().threads, ident="featurepedia")


def warm_inference() -> threading.Thread:
    """In embedded mode, load the default model for live inference in the background, so the first live
    request does not wait for the load (seconds for the 135M model). A live request that comes first waits
    for the same load, never a second one (the client loads each model once)."""
    thread = threading.Thread(target=_warm, name="warm inference", daemon=True)
    thread.start()
    return thread


def _warm() -> None:
    from django.db import connection

    from featurepedia.inference.client import LocalClient
    from featurepedia.web.live.access import client, stored_model

    model = get_settings().default_model
    try:
        live = client()
        if isinstance(live, LocalClient) and stored_model(model):
            live.service(model)
    except Exception:  # the first live request then reports the problem to whoever asked
        log.warning("could not load %s for live inference ahead of the first request", model, exc_info=True)
    finally:
        connection.close()  # this thread's own database connection
