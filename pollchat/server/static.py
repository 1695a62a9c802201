"""The web client's files, read once at start from the package (``pollchat/web/``).

Seed 003 asks for a chat in the browser with nothing to install: the page, its CSS and
its JavaScript ship as package data and are served from memory by the web listener
(:class:`~pollchat.protocol.web.WebCodec`), so no CDN, no build step, and a LAN without
internet works.
"""

from __future__ import annotations

import logging
from importlib import resources

from pollchat.protocol.http import StaticFile, build_site

log = logging.getLogger(__name__)

PACKAGE = "pollchat.web"
SUFFIXES = (".html", ".css", ".js", ".png", ".svg", ".ico", ".webmanifest", ".txt")
"""What is served of the package folder (not its ``__init__.py``)."""


def load_site() -> dict[str, StaticFile]:
    """``{"/index.html": StaticFile, ...}`` for the files of :data:`PACKAGE` (top level
    and sub-folders); empty, logged, if the package has none."""
    files: dict[str, bytes] = {}
    try:
        root = resources.files(PACKAGE)
    except ModuleNotFoundError:
        root = None
    if root is not None:
        _collect(root, "", files)
    if "index.html" not in files:
        log.warning("the web client's files are missing from the package: / will answer 404")
    return build_site(files)


def _collect(folder: resources.abc.Traversable, prefix: str, files: dict[str, bytes]) -> None:
    for entry in folder.iterdir():
        if entry.is_dir():
            if not entry.name.startswith(("_", ".")):
                _collect(entry, f"{prefix}{entry.name}/", files)
        elif entry.name.endswith(SUFFIXES):
            files[prefix + entry.name] = entry.read_bytes()
