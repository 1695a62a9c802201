"""The web client (seed 003): ``index.html``, ``app.css`` and the ES modules of ``js/``,
shipped as package data.

A single page, no framework and no build step: the server serves these files as they are
(same origin; ``index.html`` loads ``js/main.js`` with ``<script type="module">``, which
imports the others) and upgrades ``GET /ws`` to a WebSocket on which each text message
carries one line of the JSON mode (``docs/protocol.md``) and the endpoint starts in JSON
mode.
``docs/web-client.md`` describes the page; the browser tests are ``tests/browser/``.

:func:`asset` is how a server reads the files; :data:`ASSETS` lists them with their
content types. Nothing here does I/O on import.
"""

from __future__ import annotations

from importlib import resources

MODULES = (
    "util", "state", "groups", "events", "requests", "connection", "typing", "input", "screens", "render", "main",
    "alerts", "paste",
)
"""The page's ES modules, ``js/NAME.js`` (``docs/web-client.md`` has the map)."""

ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    # A module script must come as JavaScript or the browser refuses it (HTML's
    # "fetch a single module script" checks the MIME type).
    **{f"js/{module}.js": "text/javascript; charset=utf-8" for module in MODULES},
}
"""Every file of the page, by name (relative to this package), with the
``Content-Type`` to serve it with."""


def asset(name: str) -> bytes:
    """The bytes of the page's file ``name`` (one of :data:`ASSETS`).

    Raises:
        KeyError: ``name`` is not one of the page's files (a request for anything else
            must not reach the file system).
    """
    if name not in ASSETS:
        raise KeyError(name)
    return resources.files(__name__).joinpath(name).read_bytes()
