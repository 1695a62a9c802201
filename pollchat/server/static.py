"""The web client's files, read once at start from the package (``pollchat/web/``).

Seed 003 asks for a chat in the browser with nothing to install: the page, its CSS and
its JavaScript ship as package data and are served from memory by the web listener
(:class:`~pollchat.protocol.web.WebCodec`), so no CDN, no build step, and a LAN without
internet works.
"""

from __future__ import annotations

from pollchat import web
from pollchat.protocol.http import StaticFile, build_site


def load_site() -> dict[str, StaticFile]:
    """``{"/index.html": StaticFile, ...}``: every file of :data:`pollchat.web.ASSETS`,
    with its ETag, ready for :func:`~pollchat.protocol.http.serve_static`.

    Raises:
        OSError: a file of the page is missing from the installed package.
    """
    return build_site({name: web.asset(name) for name in web.ASSETS})
