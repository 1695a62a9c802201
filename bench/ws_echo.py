"""A WebSocket echo server on pollchat's sans-IO codec, for the Autobahn|Testsuite.

The fuzzing client of the Autobahn|Testsuite (``wstest -m fuzzingclient``) checks a
server by having it echo every message, so this server echoes each text and binary
message back, unfragmented. It uses :mod:`pollchat.protocol.http` for the handshake
request and :class:`pollchat.protocol.websocket.ServerProtocol` for the frames, with
binary messages allowed and a 16 MiB message limit (section 9 sends up to 16 MiB);
the chat's :class:`~pollchat.protocol.web.WebCodec` allows neither.

    python -m bench.ws_echo --port 9001            # stops by itself after 30 minutes

It listens on 127.0.0.1 only. See ``docs/websocket.md`` for the whole Autobahn run.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import sys
import time

from pollchat.errors import HttpError
from pollchat.protocol.http import RequestReader, error_response
from pollchat.protocol.websocket import ServerProtocol, handshake_response

MAX_MESSAGE = 16 * 1024 * 1024
READ_SIZE = 65536


class Connection:
    """One client: the request reader until the 101, then the frame protocol."""

    def __init__(self, sock: socket.socket, allowed_origins: frozenset[str]) -> None:
        self.sock = sock
        self.allowed_origins = allowed_origins
        self.reader = RequestReader()
        self.websocket: ServerProtocol | None = None
        self.output = bytearray()
        self.done = False  # close once the output is flushed
        self.closed = False

    def received(self, data: bytes) -> None:
        if self.websocket is None:
            try:
                request = self.reader.feed(data)
                if request is None:
                    return
                self.output += handshake_response(request, self.allowed_origins)
            except HttpError as error:
                self.output += error_response(error)
                self.done = True
                return
            self.websocket = ServerProtocol(MAX_MESSAGE, allow_binary=True)
            data = self.reader.rest
        websocket = self.websocket
        websocket.receive_data(data)
        # One message at a time, so an echo goes out before a close that followed it.
        while (message := websocket.next_message()) is not None:
            websocket.send(message)
        self.output += websocket.data_to_send()
        if websocket.should_close:
            self.done = True


def close(selector: selectors.BaseSelector, conn: Connection) -> None:
    """Unregister, then close (the other order hides errors from epoll)."""
    conn.closed = True
    selector.unregister(conn.sock)
    conn.sock.close()


def serve(port: int, lifetime: float, allowed_origins: frozenset[str]) -> None:
    """Echo until ``lifetime`` seconds have passed (bounded by design: bench/ rules)."""
    selector = selectors.DefaultSelector()
    listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ, None)
    print(f"echoing on ws://127.0.0.1:{port}/ for {lifetime:.0f} s", flush=True)
    deadline = time.monotonic() + lifetime
    try:
        while (left := deadline - time.monotonic()) > 0:
            for key, events in selector.select(timeout=min(left, 1.0)):
                if key.data is None:
                    sock, _ = listener.accept()
                    sock.setblocking(False)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    selector.register(sock, selectors.EVENT_READ, Connection(sock, allowed_origins))
                    continue
                conn: Connection = key.data
                if conn.closed:  # closed earlier in this batch: a stale event
                    continue
                if events & selectors.EVENT_READ:
                    try:
                        data = conn.sock.recv(READ_SIZE)
                    except ConnectionError:
                        data = b""
                    if not data:
                        close(selector, conn)
                        continue
                    conn.received(data)
                if conn.output:
                    try:
                        sent = conn.sock.send(conn.output)
                    except BlockingIOError:
                        sent = 0
                    except ConnectionError:
                        close(selector, conn)
                        continue
                    del conn.output[:sent]
                if conn.done and not conn.output:
                    close(selector, conn)
                    continue
                selector.modify(conn.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.output else 0), conn)
    finally:
        for key in list(selector.get_map().values()):
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
        selector.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ws_echo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9001, help="port on 127.0.0.1 (default 9001)")
    parser.add_argument("--lifetime", type=float, default=1800, help="seconds before it stops by itself (default 1800)")
    parser.add_argument("--allow-origin", action="append", default=[], help="an extra allowed Origin (repeatable)")
    args = parser.parse_args(argv)
    try:
        serve(args.port, args.lifetime, frozenset(o.lower() for o in args.allow_origin))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"ws_echo: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
