"""HTTP/1.1 for the browser front end, sans-IO: a bounded request-head parser,
response builders, and static files served from memory.

Only what a browser needs to load the chat page and open its WebSocket:

* :class:`RequestReader` takes bytes in any chunking and returns one :class:`Request`
  once the head (request line and header fields, up to :data:`MAX_HEAD` bytes) is
  complete, or raises :class:`~pollchat.errors.HttpError` for a head it refuses.
* :func:`serve_static` answers a ``GET``/``HEAD`` from a mapping built once at start-up
  by :func:`build_site`, so serving never reads a file.
* :func:`build_response` and :func:`error_response` build the bytes.

**One request per connection**: every response carries ``Connection: close`` and the
server closes once it is flushed. There is no keep-alive, no pipelining and no request
body, so there is no body framing to get wrong (no request smuggling, no chunked
decoding); a page loads a handful of files, and a browser opens parallel connections
anyway. RFC 9112 section 9.6 allows a server to close after any response that says
``Connection: close``.

No ``Date`` header: this module has no clock (RFC 9110 section 6.6.1 lets a server
without a usable clock leave it out); caching is by ``ETag`` revalidation only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pollchat.errors import HttpError

MAX_HEAD = 8192
"""Bytes in a request head (request line, header fields and the blank line). Browsers
send about 0.5-2 KiB; cookies of other applications on the same host can add more."""

INDEX_PATH = "/index.html"
"""The file ``GET /`` serves."""

ALLOWED_METHODS = "GET, HEAD"

REASONS = {
    101: "Switching Protocols",
    200: "OK",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    421: "Misdirected Request",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}
"""The status codes this front end sends, with their reason phrases (RFC 9110 section 15)."""

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/vnd.microsoft.icon",
    ".woff2": "font/woff2",
}
"""Media type by file suffix. A fixed table, not :mod:`mimetypes`, which reads the
system's ``mime.types`` files and so differs between machines."""

DEFAULT_CONTENT_TYPE = "application/octet-stream"

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 section 5.6.2
_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])")  # RFC 9112 section 2.3
_TARGET = re.compile(r"/[\x21-\x7e]*")  # origin-form, visible ASCII (RFC 9112 section 3.2.1)
# absolute-form (RFC 9112 section 3.2.2): scheme "://" authority, then the path and query
_ABSOLUTE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)((?:[/?][\x21-\x7e]*)?)")
# Control characters other than HTAB are not allowed in a field value (RFC 9110
# section 5.5); refusing them also refuses a bare CR, which some parsers take as a line end.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# host[:port] as a name, an IPv4 address or a bracketed IPv6 address. Narrower than
# RFC 3986's reg-name on purpose: the value is echoed into the Content-Security-Policy,
# where a ";" or a space would start a new directive.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_SITE_NAME = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_\-.]*(?:/[A-Za-z0-9_\-][A-Za-z0-9_\-.]*)*")
_ENTITY_TAG = re.compile(r'(?:W/)?("[\x21\x23-\x7e\x80-\xff]*")')  # RFC 9110 section 8.8.3


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request head.

    Attributes:
        method: as sent (methods are case-sensitive: RFC 9110 section 9.1).
        target: the request target in origin form, e.g. ``/app.js?v=2`` (an
            absolute-form target, ``http://host/app.js?v=2``, is given in origin form,
            its authority as the ``Host`` field: RFC 9112 section 3.2.2).
        version: ``"HTTP/1.1"`` or ``"HTTP/1.0"``.
        headers: ``(name, value)`` pairs in arrival order; names lower-cased (field
            names are case-insensitive, RFC 9110 section 5.1), values without
            surrounding blanks, decoded as ISO-8859-1 (RFC 9110 section 5.5).
    """

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.partition("?")[0]

    def values(self, name: str) -> list[str]:
        """Every value of the field ``name`` (any case), in order; ``[]`` if absent."""
        name = name.lower()
        return [value for field, value in self.headers if field == name]

    def get(self, name: str) -> str | None:
        """The field ``name``'s value, repeated fields joined with ``", "`` (RFC 9110
        section 5.3); ``None`` if absent."""
        found = self.values(name)
        return ", ".join(found) if found else None

    def tokens(self, name: str) -> list[str]:
        """The comma-separated list elements of field ``name`` over all its lines,
        lower-cased, blanks and empty elements dropped (RFC 9110 section 5.6.1). For
        ``Connection`` and ``Upgrade``, whose tokens are case-insensitive."""
        return [item.strip(" \t").lower() for value in self.values(name) for item in value.split(",") if item.strip(" \t")]

    @property
    def host(self) -> str | None:
        """The ``Host`` field (validated by the parser), or ``None`` (HTTP/1.0 only)."""
        return self.get("host")


class RequestReader:
    """Collects one request head from bytes in any chunking.

    Args:
        max_head: the longest accepted head in bytes, blank line included.

    The head ends at the first empty line; lines may end with CRLF or a bare LF (RFC
    9112 section 2.2 lets a server accept LF). At most ``max_head`` bytes are held.
    Whatever follows the head (the first WebSocket frames, if the client did not wait
    for the 101) is kept in :attr:`rest`.
    """

    __slots__ = ("max_head", "_buf", "_scan", "rest", "done")

    def __init__(self, max_head: int = MAX_HEAD) -> None:
        if max_head < 16:
            raise ValueError("max_head must be at least 16")
        self.max_head = max_head
        self._buf = bytearray()
        self._scan = 0  # no head end starts before this offset
        self.rest = b""
        self.done = False

    def feed(self, data: bytes) -> Request | None:
        """Consume ``data``; return the request once its head is complete, else ``None``.

        Raises:
            HttpError: 431 for a head over ``max_head`` bytes; 400, 405 or 505 from
                :func:`parse_head`.
            RuntimeError: called again after a request was returned or refused.
        """
        if self.done:
            raise RuntimeError("RequestReader reads one request")
        self._buf += data
        end = self._find_end()
        if end == -1 and len(self._buf) < self.max_head:
            return None
        self.done = True
        if end == -1 or end > self.max_head:
            self._buf.clear()
            raise HttpError(431, f"request head over {self.max_head} bytes")
        head = bytes(self._buf[:end])
        self.rest = bytes(self._buf[end:])
        self._buf.clear()
        return parse_head(head)

    @property
    def pending(self) -> int:
        """Bytes of an unfinished head held in memory."""
        return len(self._buf)

    def _find_end(self) -> int:
        """Offset just past the first empty line, or -1 if there is none yet."""
        buf = self._buf
        while True:
            nl = buf.find(b"\n", self._scan)
            if nl == -1:
                self._scan = len(buf)
                return -1
            after = buf[nl + 1 : nl + 3]
            if after[:1] == b"\n":
                return nl + 2
            if after == b"\r\n":
                return nl + 3
            if after in (b"", b"\r"):
                self._scan = nl  # undecided until more bytes arrive
                return -1
            self._scan = nl + 1


def parse_head(head: bytes) -> Request:
    """Parse a complete request head (ending with its empty line).

    Raises:
        HttpError: 400 for a malformed request line or field, a missing, repeated or
            invalid ``Host`` in HTTP/1.1 (RFC 9112 section 3.2), obsolete line folding
            (RFC 9112 section 5.2), or a request body (``Content-Length`` other than 0,
            or ``Transfer-Encoding``); 505 for an HTTP version other than 1.0 and 1.1;
            405 (with ``Allow: GET, HEAD``) for any other method.
    """
    lines = head.decode("latin-1").split("\n")
    lines = [line.removesuffix("\r") for line in lines]
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise HttpError(400, "empty request")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]):
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    matched = _VERSION.fullmatch(version)
    if not matched:
        raise HttpError(400, "malformed HTTP version")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(505, f"{version} is not supported, use HTTP/1.1")
    authority = None
    absolute = _ABSOLUTE.fullmatch(target)
    if absolute is not None:
        # RFC 9112 section 3.2.2: a server MUST accept the absolute-form; the target's
        # authority then stands for the Host field (section 3.2.2 again).
        scheme, authority, rest = absolute.groups()
        if scheme.lower() not in ("http", "https") or not _HOST.fullmatch(authority):
            raise HttpError(400, "an absolute request target must be http://host[:port]/path")
        target = rest if rest.startswith("/") else "/" + rest
    if not _TARGET.fullmatch(target):
        raise HttpError(400, "request target must be a path starting with /")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            raise HttpError(400, "obsolete line folding")
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise HttpError(400, "malformed header field")
        value = value.strip(" \t")
        if _BAD_VALUE.search(value):
            raise HttpError(400, "control character in a header field")
        headers.append((name.lower(), value))
    request = Request(method, target, version, tuple(headers))
    hosts = request.values("host")
    if len(hosts) > 1 or (version == "HTTP/1.1" and not hosts):
        raise HttpError(400, "an HTTP/1.1 request needs exactly one Host header")
    if hosts and not _HOST.fullmatch(hosts[0]):
        raise HttpError(400, "invalid Host header")
    if authority is not None:
        headers = [(name, value) for name, value in headers if name != "host"] + [("host", authority)]
        request = Request(method, target, version, tuple(headers))
    if method not in ("GET", "HEAD"):
        raise HttpError(405, f"method {method} not allowed", (("Allow", ALLOWED_METHODS),))
    if request.values("transfer-encoding") or request.get("content-length") not in (None, "0"):
        raise HttpError(400, "a GET or HEAD request has no body here")
    return request


def content_security_policy(host: str | None) -> str:
    """The ``Content-Security-Policy`` of every response.

    Only the page's own origin may supply scripts, styles and fonts (images also from
    ``data:`` URLs: the page's empty favicon, which spares a request); no inline
    script or style (none of ``'unsafe-inline'``), no plugins, no ``<base>`` rewriting,
    and no framing (``frame-ancestors 'none'`` stops clickjacking). Connections may go
    to the page's origin and to the WebSocket on the same ``host[:port]`` (``'self'``
    covers ``ws:``/``wss:`` only in browsers that implement CSP level 3, hence the
    explicit sources). ``host`` is the validated ``Host`` header, or ``None``.
    """
    connect = "'self'" + (f" ws://{host} wss://{host}" if host else "")
    return (
        "default-src 'self'; "
        f"connect-src {connect}; "
        "img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def common_headers(host: str | None) -> list[tuple[str, str]]:
    """Header fields of every response but the 101: caching, security, ``Connection``.

    ``no-cache`` lets a browser keep a copy but makes it revalidate it (a cheap 304)
    before each use, so a new version of the page shows up at once.
    """
    return [
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", content_security_policy(host)),
        ("Referrer-Policy", "no-referrer"),
        ("Connection", "close"),
    ]


def build_response(status: int, headers: Iterable[tuple[str, str]], body: bytes = b"", *, head_only: bool = False) -> bytes:
    """The bytes of a response: status line, ``headers`` as given, blank line, body.

    Args:
        status: a code of :data:`REASONS`.
        headers: ``(name, value)`` pairs; the caller adds ``Content-Length``.
        body: the payload (bytes).
        head_only: leave the body out (a ``HEAD`` response, RFC 9110 section 9.3.2).

    Raises:
        ValueError: a name or value with CR or LF (that would inject header fields).
    """
    lines = [f"HTTP/1.1 {status} {REASONS[status]}"]
    for name, value in headers:
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise ValueError(f"line break in header field {name!r}")
        lines.append(f"{name}: {value}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


def error_response(error: HttpError, host: str | None = None, *, head_only: bool = False) -> bytes:
    """A short ``text/plain`` response for ``error``, e.g. ``404 Not Found: /x``.

    Args:
        error: the refusal; its ``headers`` (``Allow``, ``Sec-WebSocket-Version``,
            ``Upgrade``) are added.
        host: the request's validated ``Host`` (for the CSP), if known.
        head_only: leave the body out (the request was a ``HEAD``).
    """
    body = f"{error.status} {REASONS[error.status]}: {error}\n".encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        *error.headers,
        *common_headers(host),
    ]
    return build_response(error.status, headers, body, head_only=head_only)


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file of the site, held in memory.

    Attributes:
        body: the file's bytes.
        content_type: the ``Content-Type`` value, e.g. ``text/html; charset=utf-8``.
        etag: a strong entity tag with its quotes, e.g. ``"9f86d081..."``.
    """

    body: bytes
    content_type: str
    etag: str


def entity_tag(body: bytes) -> str:
    """A strong ``ETag`` for ``body``: the first 128 bits of its SHA-256, in hex and
    quoted. It depends on the content only, so it survives restarts and is the same
    on every server of a deployment."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def build_site(files: Mapping[str, bytes]) -> dict[str, StaticFile]:
    """The URL-path mapping :func:`serve_static` serves, from ``{name: bytes}``.

    Args:
        files: relative names such as ``"index.html"`` or ``"js/app.js"`` (letters,
            digits, ``_``, ``-``, ``.``, and ``/`` between parts) and their contents.

    Returns:
        ``{"/index.html": StaticFile(...), ...}``: keys are the URL paths, content
        types come from :data:`CONTENT_TYPES` by suffix, ETags from :func:`entity_tag`.

    Raises:
        ValueError: a name that is not of that form (absolute, empty, ``..`` parts).
    """
    site: dict[str, StaticFile] = {}
    for name, body in files.items():
        if not _SITE_NAME.fullmatch(name) or any(part in (".", "..") for part in name.split("/")):
            raise ValueError(f"invalid static file name {name!r}")
        suffix = "." + name.rpartition(".")[2] if "." in name.rpartition("/")[2] else ""
        content_type = CONTENT_TYPES.get(suffix.lower(), DEFAULT_CONTENT_TYPE)
        site["/" + name] = StaticFile(bytes(body), content_type, entity_tag(body))
    return site


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``etag``: ``*``, or a list of entity
    tags compared weakly (``W/"x"`` matches ``"x"``), as RFC 9110 section 13.1.2 asks."""
    if if_none_match.strip(" \t") == "*":
        return True
    wanted = etag.removeprefix("W/")
    return wanted in _ENTITY_TAG.findall(if_none_match)


def serve_static(request: Request, site: Mapping[str, StaticFile]) -> bytes:
    """The whole response to a ``GET`` or ``HEAD`` for a file of ``site``.

    ``/`` serves :data:`INDEX_PATH`; a query string is ignored; a path not in ``site``
    gets 404. A matching ``If-None-Match`` gets ``304 Not Modified`` without a body
    (RFC 9110 section 13.1.2). ``HEAD`` gets the ``GET`` headers and no body. Paths are
    looked up as sent, not percent-decoded: the names :func:`build_site` accepts need
    no encoding, and a lookup in a mapping cannot reach outside it.
    """
    head_only = request.method == "HEAD"
    host = request.host
    path = INDEX_PATH if request.path == "/" else request.path
    file = site.get(path)
    if file is None:
        return error_response(HttpError(404, f"no such file {request.path}"), host, head_only=head_only)
    if_none_match = request.get("if-none-match")
    if if_none_match is not None and etag_matches(if_none_match, file.etag):
        return build_response(304, [("ETag", file.etag), *common_headers(host)])
    headers = [
        ("Content-Type", file.content_type),
        ("Content-Length", str(len(file.body))),
        ("ETag", file.etag),
        *common_headers(host),
    ]
    return build_response(200, headers, file.body, head_only=head_only)
