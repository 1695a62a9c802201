"""``pollchat-client``: chat on a pollchat server from a terminal or a script.

On a terminal it opens the full-screen UI (:mod:`pollchat.client.tui`); with ``--plain``,
or when stdin or stdout is not a terminal, or ``TERM`` is ``dumb`` or unset, or the
locale is not UTF-8, it runs the line mode (:mod:`pollchat.client.plain`), unchanged.
``--tls`` (or ``--cafile FILE``) runs either over TLS (:mod:`pollchat.client.tls`):
certificate and name verified, port 3491 by default, never a fallback to plain text.

Exit status (also in ``--help``): 0 when the input ended (Ctrl+D, end of a pipe) and the
server then closed the connection; 1 when the server cannot be reached, closes the
connection first, the connection is lost, the TLS handshake fails (a refused
certificate included), or stdout is closed (e.g. piped into ``head``); 2 on a usage
error (an unreadable ``--cafile`` included); 130 on Ctrl+C (the shell convention for
SIGINT, so a script can tell an interrupted session from a finished one). Every error
is one line on stderr, prefixed ``pollchat-client:``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import ssl
import sys
from collections.abc import Mapping
from typing import TextIO

from pollchat import __version__, texts
from pollchat.cliargs import OneLineParser, whole_number
from pollchat.client.links import LINK_MODES
from pollchat.client.plain import PROG, opening_lines, run
from pollchat.client.tls import DEFAULT_TLS_PORT, TlsFailure, TlsStream, client_context, connect_tls, ssl_reason
from pollchat.config import DEFAULT_PORT
from pollchat.errors import ConfigError
from pollchat.protocol.names import MAX_NAME_LENGTH, normalize_name

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the TCP connection before reporting the server unreachable."""
EXIT_INTERRUPTED = 130
"""Exit status after Ctrl+C (128 + SIGINT, as shells report it)."""
MAX_PASSWORD_BYTES = 4096
"""Longest password line read from stdin when there is no terminal."""

EPILOG = f"""\
examples:
  {PROG} chat.example.org
                                       on a terminal: the full-screen UI (F1 for help)
  {PROG} chat.example.org --plain
                                       line mode: type login or register, then user,password
  {PROG} 127.0.0.1 --port 4000 --user alice
                                       log in as alice (the password is asked, not shown)
  {PROG} chat.example.org --tls
                                       over TLS (port {DEFAULT_TLS_PORT}), the certificate checked
                                       against the system's CAs and the name
  {PROG} chat.example.org --cafile server.pem
                                       over TLS, trusting the CA or self-signed certificate
                                       in server.pem (instead of the system's CAs)
  printf 'login\\nuser1,123\\nhi\\n' | {PROG} 127.0.0.1
                                       log in, say hi, leave at the end of the input
  printf 'hi\\n' | {PROG} 127.0.0.1 --user alice
                                       the password is asked on the terminal; without a
                                       terminal it is the first line of the input

Line mode: leave with Ctrl+D (end of input: the client waits for the server to close)
or Ctrl+C. Full-screen UI: Esc or Ctrl+C; it reconnects by itself when the server goes
away, and remembers servers and user names (never passwords) in
$XDG_CONFIG_HOME/pollchat/client.toml.

exit status:
  0    the input ended, then the server closed the connection (full-screen UI: Esc)
  1    the server is unreachable, closed the connection first, or the connection was
       lost; with --tls, its certificate was refused or the handshake failed; or
       stdout was closed (e.g. piped into head)
  2    usage error (an unreadable --cafile file too)
  130  interrupted with Ctrl+C
"""


def _user_name(text: str) -> str:
    name = normalize_name(text)
    if name is None:
        raise argparse.ArgumentTypeError(texts.CLIENT_BAD_USER.format(name=text, limit=MAX_NAME_LENGTH))
    return name


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = OneLineParser(
        prog=PROG,
        description="Chat on a pollchat server: shows what the server says and sends each "
        "line you type. Works interactively and in pipes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("host", metavar="HOST", help="the server's name or address")
    parser.add_argument(
        "--port",
        type=whole_number(1, 65535),
        default=None,
        help=f"the server's TCP port (default: {DEFAULT_PORT}, or {DEFAULT_TLS_PORT} with --tls)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="connect over TLS: the server's certificate must be valid for HOST and signed by a CA "
        "the system trusts (or by --cafile); never falls back to plain text",
    )
    parser.add_argument(
        "--cafile",
        metavar="FILE",
        help="trust the certificates in the PEM file FILE instead of the system's CAs: a private "
        "CA, or the server's self-signed certificate (implies --tls)",
    )
    parser.add_argument(
        "--user",
        type=_user_name,
        metavar="NAME",
        help="log in as NAME; the password is asked without echo (or read as the first "
        "line of stdin when there is no terminal)",
    )
    parser.add_argument(
        "--links",
        choices=LINK_MODES,
        default=None,
        metavar="MODE",
        help="auto, on or off: web links (http, https) as clickable OSC 8 hyperlinks in the "
        "full-screen UI; auto (the default, unless the settings file says links) turns them on "
        "for terminals known to draw them",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="line mode even on a terminal (it is also used when stdin or stdout is not a "
        "terminal, or TERM is dumb or unset)",
    )
    return parser


def wants_tui(args: argparse.Namespace, stdin_fd: int, stdout: TextIO, env: Mapping[str, str]) -> bool:
    """Whether to open the full-screen UI: not ``--plain``, stdin and stdout are
    terminals, ``TERM`` is set and not ``dumb``, and curses is available."""
    if args.plain or env.get("TERM", "") in ("", "dumb"):
        return False
    try:
        if not (os.isatty(stdin_fd) and stdout.isatty()):
            return False
    except (AttributeError, ValueError, OSError):
        return False
    try:
        import curses  # noqa: F401 - Windows has no stdlib curses
    except ImportError:
        return False
    return True


def run_full_screen(args: argparse.Namespace, stdin_fd: int, env: Mapping[str, str]) -> int:
    """The full-screen client (see :mod:`pollchat.client.tui`); returns the exit status."""
    from pollchat.client.config import config_path, load_config
    from pollchat.client.tui import run_tui

    path = config_path(env)
    config, _warning = load_config(path)  # a broken file: defaults (it is rewritten at login)
    return run_tui(args.host, args.port, args.user, config, path, env, stdin_fd, tls=args.tls_context, links=args.links)


def resolve_tls(args: argparse.Namespace) -> None:
    """Settle the TLS options in ``args`` (after parsing): ``--cafile`` implies ``--tls``
    (a CA file only means something over TLS, and implying it can only make the
    connection safer); the port defaults to 3491 with TLS, 3490 without; and
    ``args.tls_context`` is the :class:`ssl.SSLContext` to use, or ``None`` for plain TCP.

    Raises:
        ConfigError: the ``--cafile`` file cannot be read or holds no certificate.
    """
    args.tls = args.tls or args.cafile is not None
    if args.port is None:
        args.port = DEFAULT_TLS_PORT if args.tls else DEFAULT_PORT
    args.tls_context = None
    if args.tls:
        try:
            args.tls_context = client_context(args.cafile)
        except OSError as exc:  # FileNotFoundError, ssl.SSLError (no certificate in it)
            raise ConfigError(texts.CLIENT_TLS_BAD_CAFILE.format(path=args.cafile, reason=ssl_reason(exc))) from None


def connect(
    host: str, port: int, timeout: float = CONNECT_TIMEOUT, tls: ssl.SSLContext | None = None
) -> socket.socket | TlsStream:
    """Open a connection to ``host:port``, waiting at most ``timeout`` seconds for the
    TCP connection (and as long again for the TLS handshake).

    Args:
        tls: the TLS settings (:func:`~pollchat.client.tls.client_context`), or ``None``
            for plain TCP. With TLS, nothing is sent but the handshake until it has
            completed and the certificate was accepted.

    Returns:
        The TCP socket, or a :class:`~pollchat.client.tls.TlsStream` whose handshake is done.

    Raises:
        OSError: refused, timed out (``TimeoutError``), unknown host (``socket.gaierror``).
        TlsFailure: the TLS handshake failed (its one-line description).
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # chat lines are small
    except OSError:
        pass
    if tls is None:
        return sock
    return connect_tls(sock, tls, host, port, timeout)


def has_terminal(stdin_fd: int) -> bool:
    """True if a password can be asked without echo: stdin is a terminal, or the process
    has a controlling terminal (``/dev/tty``, where :func:`getpass.getpass` asks)."""
    if os.isatty(stdin_fd):
        return True
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def read_password(name: str, stdin_fd: int) -> str:
    """The password for ``name``: asked with :func:`getpass.getpass` (no echo) when there
    is a terminal, else the first line of ``stdin_fd``.

    The line is read one byte at a time so that nothing after it is consumed: the rest of
    the input is chat lines for :func:`~pollchat.client.plain.run`.

    Raises:
        ConfigError: no terminal and no complete password line on stdin.
        KeyboardInterrupt: Ctrl+C at the prompt.
    """
    if has_terminal(stdin_fd):
        return getpass.getpass(texts.CLIENT_PASSWORD_PROMPT.format(name=name))
    raw = bytearray()
    while len(raw) <= MAX_PASSWORD_BYTES:
        try:
            byte = os.read(stdin_fd, 1)
        except OSError:
            byte = b""
        if not byte or byte == b"\n":
            break
        raw += byte
    else:
        raise ConfigError(texts.CLIENT_NO_PASSWORD.format(name=name))
    try:
        password = raw.removesuffix(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        password = ""
    if not password:
        raise ConfigError(texts.CLIENT_NO_PASSWORD.format(name=name))
    return password


def _stdin_fd() -> int:
    try:
        return sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        # Started with stdin closed (`<&-`): read /dev/null instead, so the input simply
        # ends and descriptor 0 cannot be taken by the socket.
        return os.open(os.devnull, os.O_RDONLY)


def _end_terminal_line(stderr: TextIO) -> None:
    """After Ctrl+C, start the shell's prompt on a fresh line (terminals only)."""
    try:
        if stderr.isatty():
            stderr.write("\n")
            stderr.flush()
    except (OSError, ValueError):
        pass


def _silence_stdout(stdout: TextIO) -> None:
    """After EPIPE on stdout, point it at /dev/null so the flush at exit stays quiet."""
    try:
        fd = stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def main(
    argv: list[str] | None = None,
    *,
    stdin_fd: int | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Entry point of ``pollchat-client``. Returns the exit status (see the module doc).

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        stdin_fd, stdout, stderr: the streams (default: the process's own); tests pass
            a pipe and ``io.StringIO`` objects.
    """
    args = build_parser().parse_args(argv)
    stdin_fd = _stdin_fd() if stdin_fd is None else stdin_fd
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr

    def fail(message: str, status: int) -> int:
        try:
            print(f"{PROG}: {message}", file=stderr, flush=True)
        except (BrokenPipeError, ValueError):
            pass
        return status

    try:
        resolve_tls(args)
    except ConfigError as exc:
        return fail(str(exc), 2)

    env = os.environ
    if wants_tui(args, stdin_fd, stdout, env):
        from pollchat.client.tui import TuiUnavailable, locale_is_utf8

        if locale_is_utf8():
            try:
                return run_full_screen(args, stdin_fd, env)
            except KeyboardInterrupt:
                return EXIT_INTERRUPTED
            except TuiUnavailable as exc:
                fail(texts.CLIENT_TUI_UNAVAILABLE.format(reason=exc), 0)
        else:
            fail(texts.CLIENT_TUI_NEEDS_UTF8, 0)

    try:
        sock = connect(args.host, args.port, tls=args.tls_context)
    except TlsFailure as exc:
        return fail(str(exc), 1)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return fail(texts.CLIENT_UNREACHABLE.format(host=args.host, port=args.port, reason=reason), 1)
    except KeyboardInterrupt:
        _end_terminal_line(stderr)
        return EXIT_INTERRUPTED
    try:
        if args.user is None:
            first_lines = opening_lines()
        else:
            first_lines = opening_lines(args.user, read_password(args.user, stdin_fd))
        return run(sock, stdin_fd, stdout, stderr, first_lines)
    except ConfigError as exc:
        return fail(str(exc), 2)
    except KeyboardInterrupt:
        _end_terminal_line(stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout's reader went away (socket errors never get here)
        _silence_stdout(stdout)
        return 1
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
