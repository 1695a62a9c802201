"""pollchat.protocol.http: the request-head parser, responses and static files.

Golden cases for the head (CRLF or LF, case-insensitive and repeated fields, what follows
the head) and every refusal (400, 405, 431, 505); static files (200, 304, 404, HEAD and
the headers every response carries); properties: any bytes in any chunking give the same
outcome, and the reader raises nothing but ``HttpError``.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.errors import HttpError
from pollchat.protocol.http import (
    DEFAULT_CONTENT_TYPE,
    MAX_HEAD,
    Request,
    RequestReader,
    StaticFile,
    build_response,
    build_site,
    content_security_policy,
    error_response,
    etag_matches,
    parse_head,
    serve_static,
)
from tests.strategies import chunkings
from tests.wsclient import Response, parse_response

INDEX = b"<!doctype html><title>pollchat</title><script src=/app.js></script>"
SITE = build_site({"index.html": INDEX, "app.js": b"console.log(1)\n", "css/app.css": b"body{}"})


def read(data: bytes, max_head: int = MAX_HEAD) -> Request | None:
    return RequestReader(max_head).feed(data)


def refused(data: bytes, max_head: int = MAX_HEAD) -> HttpError:
    with pytest.raises(HttpError) as info:
        RequestReader(max_head).feed(data)
    return info.value


def get(target: str, *fields: str, method: str = "GET") -> Request:
    head = "\r\n".join([f"{method} {target} HTTP/1.1", "Host: chat.example", *fields]) + "\r\n\r\n"
    request = read(head.encode())
    assert request is not None
    return request


# --- the request head ---------------------------------------------------------------------


def test_a_browser_request_is_parsed() -> None:
    request = read(
        b"GET /app.js?v=2 HTTP/1.1\r\nHost: chat.example:8080\r\nUser-Agent: Mozilla/5.0\r\n"
        b"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n\r\n"
    )
    assert request == Request(
        "GET",
        "/app.js?v=2",
        "HTTP/1.1",
        (
            ("host", "chat.example:8080"),
            ("user-agent", "Mozilla/5.0"),
            ("accept", "*/*"),
            ("accept-encoding", "gzip, deflate"),
        ),
    )
    assert request.path == "/app.js"
    assert request.host == "chat.example:8080"


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"GET / HTTP/1.1\nHost: a\n\n", id="lf"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\n\r\n", id="mixed"),
        pytest.param(b"GET / HTTP/1.1\nHost: a\r\n\n", id="mixed-2"),
        pytest.param(b"GET / HTTP/1.1\r\nhOsT:a  \t\r\n\r\n", id="name-case-and-blanks"),
    ],
)
def test_lf_and_crlf_heads(head: bytes) -> None:
    request = read(head)
    assert request is not None
    assert request.headers == (("host", "a"),)


def test_repeated_fields_and_tokens() -> None:
    request = get("/", "Connection: keep-alive", "connection: Upgrade", "X-Empty:", "Upgrade: WebSocket , h2c")
    assert request.values("CONNECTION") == ["keep-alive", "Upgrade"]
    assert request.get("Connection") == "keep-alive, Upgrade"
    assert request.tokens("connection") == ["keep-alive", "upgrade"]
    assert request.tokens("upgrade") == ["websocket", "h2c"]
    assert request.get("x-empty") == ""
    assert request.get("absent") is None
    assert request.values("absent") == [] and request.tokens("absent") == []


def test_http_1_0_needs_no_host() -> None:
    request = read(b"GET / HTTP/1.0\r\n\r\n")
    assert request is not None and request.host is None


def test_the_head_waits_for_its_blank_line() -> None:
    reader = RequestReader()
    assert reader.feed(b"GET / HTTP/1.1\r\nHost: a\r\n") is None
    assert reader.feed(b"\r") is None
    assert reader.pending == len(b"GET / HTTP/1.1\r\nHost: a\r\n\r")
    assert reader.feed(b"\n") is not None


def test_bytes_after_the_head_are_kept() -> None:
    reader = RequestReader()
    assert reader.feed(b"GET /ws HTTP/1.1\r\nHost: a\r\n\r\n\x81\x85abc") is not None
    assert reader.rest == b"\x81\x85abc"
    assert reader.pending == 0


def test_one_request_only() -> None:
    reader = RequestReader()
    reader.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    with pytest.raises(RuntimeError):
        reader.feed(b"GET / HTTP/1.1\r\n")


def test_head_size_limit() -> None:
    start = b"GET / HTTP/1.1\r\nHost: a\r\nX: "
    exactly = start + b"x" * (MAX_HEAD - len(start) - 4) + b"\r\n\r\n"
    assert len(exactly) == MAX_HEAD
    assert read(exactly) is not None
    assert refused(start + b"x" * (MAX_HEAD - len(start) - 3) + b"\r\n\r\n").status == 431
    reader = RequestReader()
    with pytest.raises(HttpError) as info:
        for _ in range(MAX_HEAD):  # no blank line ever: refused once the limit is reached
            assert reader.pending < MAX_HEAD
            reader.feed(b"a")
    assert info.value.status == 431


@pytest.mark.parametrize(
    ("head", "status"),
    [
        pytest.param(b"\r\n\r\n", 400, id="empty"),
        pytest.param(b"GET /\r\nHost: a\r\n\r\n", 400, id="no-version"),
        pytest.param(b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="two-spaces"),
        pytest.param(b"GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", 400, id="four-parts"),
        pytest.param(b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="method-not-a-token"),
        pytest.param(b"GET / HTTP/1\r\nHost: a\r\n\r\n", 400, id="bad-version"),
        pytest.param(b"GET / http/1.1\r\nHost: a\r\n\r\n", 400, id="lower-case-version"),
        pytest.param(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, id="http-2"),
        pytest.param(b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, id="http-0.9"),
        pytest.param(b"GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="relative-target"),
        pytest.param(b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="absolute-form-not-http"),
        pytest.param(b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="absolute-form-userinfo"),
        pytest.param(b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="absolute-form-no-host"),
        pytest.param(b"GET http://a/ HTTP/1.1\r\n\r\n", 400, id="absolute-form-still-needs-host"),
        pytest.param(b"GET /\xe9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="non-ascii-target"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n", 400, id="no-colon"),
        pytest.param(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, id="space-before-colon"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400, id="empty-name"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, id="obs-fold"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, id="bare-cr"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400, id="nul"),
        pytest.param(b"GET / HTTP/1.1\r\n\r\n", 400, id="no-host"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, id="two-hosts"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a;b\r\n\r\n", 400, id="host-with-semicolon"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, id="host-with-space"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a:99999x\r\n\r\n", 400, id="host-bad-port"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: \r\n\r\n", 400, id="empty-host"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 400, id="body"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400, id="chunked"),
        pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n", 405, id="post"),
        pytest.param(b"get / HTTP/1.1\r\nHost: a\r\n\r\n", 405, id="methods-are-case-sensitive"),
        pytest.param(b"OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n", 405, id="options"),
        pytest.param(b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 405, id="put-with-body"),
    ],
)
def test_refused_heads(head: bytes, status: int) -> None:
    assert refused(head).status == status


def test_a_405_says_what_is_allowed() -> None:
    error = refused(b"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert error.headers == (("Allow", "GET, HEAD"),)
    response = parse_response(error_response(error, "a"))
    assert response.status == 405
    assert response.get("allow") == "GET, HEAD"


@pytest.mark.parametrize("host", ["localhost", "chat.example:8080", "127.0.0.1:3491", "[::1]:80", "[2001:db8::1]", "a"])
def test_valid_hosts(host: str) -> None:
    request = read(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert request is not None and request.host == host


@pytest.mark.parametrize(
    ("target", "path", "host"),
    [
        ("http://chat.example:9000/", "/", "chat.example:9000"),
        ("HTTP://Chat.Example/app.js?v=2", "/app.js?v=2", "Chat.Example"),
        ("https://[::1]:9000/ws", "/ws", "[::1]:9000"),
        ("http://127.0.0.1:9000", "/", "127.0.0.1:9000"),
        ("http://a?x", "/?x", "a"),
    ],
)
def test_absolute_form_targets_are_accepted(target: str, path: str, host: str) -> None:
    """RFC 9112 section 3.2.2: a server MUST accept the absolute-form; the target's
    authority replaces the Host field (which must still be there in HTTP/1.1)."""
    request = read(f"GET {target} HTTP/1.1\r\nHost: other.example\r\n\r\n".encode())
    assert request is not None
    assert request.target == path and request.host == host and request.values("host") == [host]


def test_content_length_zero_is_no_body() -> None:
    assert get("/", "Content-Length: 0").method == "GET"


# --- properties ---------------------------------------------------------------------------

_HEAD_PIECES = [
    b"GET / HTTP/1.1",
    b"HEAD /ws?x HTTP/1.0",
    b"POST / HTTP/1.1",
    b"Host: a",
    b"Host: [::1]:9",
    b"If-None-Match: *",
    b"X:\ty",
    b" folded",
    b"\r\n",
    b"\n",
    b"\r",
    b"\x00",
    b"\xff",
    b"x" * 300,
]


def heads() -> st.SearchStrategy[bytes]:
    """Byte strings that look like request heads: good fields, junk and terminators."""
    return st.one_of(
        st.binary(max_size=200),
        st.lists(st.sampled_from(_HEAD_PIECES), max_size=40).map(b"".join),
    )


def outcome(chunks: list[bytes], max_head: int) -> tuple[object, bytes]:
    """What a reader makes of ``chunks``: the request, the error or ``None``, and the
    bytes after the head (the reader's ``rest`` and the chunks it was not given)."""
    reader = RequestReader(max_head)
    for at, chunk in enumerate(chunks):
        try:
            request = reader.feed(chunk)
        except HttpError as error:
            return error, b""
        if request is not None:
            return request, reader.rest + b"".join(chunks[at + 1 :])
        assert reader.pending < max_head
    return None, b""


@given(data=heads(), max_head=st.sampled_from([16, 64, 256, MAX_HEAD]), draw=st.data())
def test_any_chunking_gives_the_same_outcome(data: bytes, max_head: int, draw: st.DataObject) -> None:
    assert outcome(draw.draw(chunkings(data)), max_head) == outcome([data], max_head)


@given(data=heads())
def test_the_reader_raises_only_http_errors(data: bytes) -> None:
    try:
        request = RequestReader().feed(data)
    except HttpError as error:
        assert error.status in (400, 405, 431, 505)
    else:
        if request is not None:
            assert request.method in ("GET", "HEAD")
            assert request.target.startswith("/")


# --- responses ----------------------------------------------------------------------------


def test_build_response() -> None:
    assert build_response(200, [("A", "1")], b"xy") == b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\nxy"
    assert build_response(200, [("A", "1")], b"xy", head_only=True) == b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n"
    with pytest.raises(ValueError):
        build_response(200, [("A", "1\r\nSet-Cookie: x=1")])


def test_csp_is_strict() -> None:
    policy = content_security_policy("chat.example:8080")
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["connect-src"] == "'self' ws://chat.example:8080 wss://chat.example:8080"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src" not in directives  # default-src 'self' applies: no inline script
    assert content_security_policy(None).count("connect-src 'self';") == 1


def test_error_response() -> None:
    raw = error_response(HttpError(400, "malformed request line"))
    response = parse_response(raw)
    assert response.status == 400
    assert response.body == b"400 Bad Request: malformed request line\n"
    assert response.get("content-length") == str(len(response.body))
    assert response.get("content-type") == "text/plain; charset=utf-8"
    assert response.get("connection") == "close"
    assert response.get("x-content-type-options") == "nosniff"
    head_only = error_response(HttpError(400, "x"), head_only=True)
    assert head_only.endswith(b"\r\n\r\n") and parse_response(head_only).body == b""


# --- static files -------------------------------------------------------------------------


def test_build_site() -> None:
    assert set(SITE) == {"/index.html", "/app.js", "/css/app.css"}
    index = SITE["/index.html"]
    assert index == StaticFile(INDEX, "text/html; charset=utf-8", '"' + hashlib.sha256(INDEX).hexdigest()[:32] + '"')
    assert SITE["/app.js"].content_type == "text/javascript; charset=utf-8"
    assert SITE["/css/app.css"].content_type == "text/css; charset=utf-8"
    others = build_site({"logo.PNG": b"", "LICENSE": b"", "data.bin": b""})
    assert others["/logo.PNG"].content_type == "image/png"
    assert others["/LICENSE"].content_type == DEFAULT_CONTENT_TYPE
    assert others["/data.bin"].content_type == DEFAULT_CONTENT_TYPE
    assert build_site({"a": b"1"})["/a"].etag != build_site({"a": b"2"})["/a"].etag


@pytest.mark.parametrize("name", ["", "/index.html", "../etc/passwd", "a/../b", "a//b", "a/", ".", "a b", "a?b", "a\\b"])
def test_build_site_refuses_odd_names(name: str) -> None:
    with pytest.raises(ValueError):
        build_site({name: b""})


def assert_common_headers(response: Response) -> None:
    assert response.get("cache-control") == "no-cache"
    assert response.get("x-content-type-options") == "nosniff"
    assert response.get("connection") == "close"
    assert response.get("referrer-policy") == "no-referrer"
    assert response.get("content-security-policy") == content_security_policy("chat.example")


@pytest.mark.parametrize("target", ["/", "/index.html", "/?x=1"])
def test_the_index(target: str) -> None:
    response = parse_response(serve_static(get(target), SITE))
    assert response.status == 200
    assert response.body == INDEX
    assert response.get("content-type") == "text/html; charset=utf-8"
    assert response.get("content-length") == str(len(INDEX))
    assert response.get("etag") == SITE["/index.html"].etag
    assert_common_headers(response)


def test_another_file() -> None:
    response = parse_response(serve_static(get("/css/app.css"), SITE))
    assert (response.status, response.body, response.get("content-type")) == (200, b"body{}", "text/css; charset=utf-8")


@pytest.mark.parametrize("target", ["/nope", "/index.html/", "/INDEX.HTML", "/%69ndex.html", "//index.html", "/ws2"])
def test_unknown_paths_are_404(target: str) -> None:
    response = parse_response(serve_static(get(target), SITE))
    assert response.status == 404
    assert response.body.startswith(b"404 Not Found")
    assert_common_headers(response)


def test_head_gets_headers_only() -> None:
    full = serve_static(get("/"), SITE)
    head = serve_static(get("/", method="HEAD"), SITE)
    assert full == head + INDEX
    response = parse_response(head)
    assert response.body == b"" and response.get("content-length") == str(len(INDEX))
    missing = parse_response(serve_static(get("/nope", method="HEAD"), SITE))
    assert missing.status == 404 and missing.body == b""


def test_if_none_match_gives_304() -> None:
    etag = SITE["/index.html"].etag
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*", f' {etag} '):
        response = parse_response(serve_static(get("/", f"If-None-Match: {value}"), SITE))
        assert response.status == 304, value
        assert response.body == b""
        assert response.get("etag") == etag
        assert response.get("content-length") is None
        assert_common_headers(response)
    assert parse_response(serve_static(get("/", f"If-None-Match: {etag}", method="HEAD"), SITE)).status == 304


@pytest.mark.parametrize("value", ['"other"', "", "W/", '"abc', "nonsense"])
def test_if_none_match_that_does_not_match_gives_200(value: str) -> None:
    response = parse_response(serve_static(get("/", f"If-None-Match: {value}"), SITE))
    assert response.status == 200 and response.body == INDEX


def test_etag_matches() -> None:
    assert etag_matches('"a"', '"a"')
    assert etag_matches('W/"a"', '"a"')
    assert etag_matches('"b",W/"a"', '"a"')
    assert not etag_matches('"ab"', '"a"')
    assert not etag_matches("a", '"a"')
    assert etag_matches("*", '"a"')


def test_a_head_parsed_in_one_go_matches_parse_head() -> None:
    head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    assert read(head) == parse_head(head)
