"""Serving the site from the command line (``featurepedia serve`` and ``demo``)."""

from __future__ import annotations

from collections.abc import Callable

from featurepedia.settings import get_settings

Say = Callable[[str], None]  # how a long-running command tells its user what it is doing (the CLI prints)


def serve(host: str, port: int, say: Say) -> None:
    """Serve the site with waitress (multi-threaded, pure Python) until interrupted; Django must be set up."""
    from waitress import serve as waitress_serve

    from featurepedia.web.wsgi import application

    say(f"Featurepedia is at http://{host}:{port}/  (Ctrl+C stops it)")
    waitress_serve(application, host=host, port=port, threads=get_settings().threads, ident="featurepedia")
