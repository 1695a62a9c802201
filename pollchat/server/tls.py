"""The server's TLS context: one place that decides protocol versions and ciphers.

Standard library ``ssl`` only, ``ssl.create_default_context(Purpose.CLIENT_AUTH)``
(Python's vetted defaults: no SSLv3, no compression, forward-secret AEAD cipher suites
first), with TLS 1.2 as the minimum (RFC 8996 deprecates 1.0 and 1.1). No client
certificates are asked for: users log in with the chat protocol's ``user,password``.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pollchat.errors import ConfigError

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side context with ``cert`` (PEM chain: the certificate, then any
    intermediates) and ``key`` (PEM private key, unencrypted) loaded.

    Raises:
        ConfigError: a file is missing, unreadable, not PEM, or the key does not match
            the certificate (a one-line message naming the file).
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = MINIMUM_VERSION
    for path in (cert, key):
        # OpenSSL's own error carries no file name (it said "no such file: None"):
        # open each file first, so the message can name the one at fault.
        try:
            with open(path, "rb"):
                pass
        except FileNotFoundError:
            raise ConfigError(f"TLS: no such file: {path}") from None
        except PermissionError:
            raise ConfigError(f"TLS: cannot read {path}: permission denied") from None
        except OSError as exc:
            raise ConfigError(f"TLS: cannot read {path}: {exc.strerror or exc}") from None
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except FileNotFoundError as exc:
        raise ConfigError(f"TLS: no such file: {exc.filename or f'{cert} or {key}'}") from None
    except PermissionError as exc:
        raise ConfigError(f"TLS: cannot read {exc.filename or f'{cert} or {key}'}: permission denied") from None
    except ssl.SSLError as exc:
        raise ConfigError(f"TLS: cannot use {cert} and {key}: {exc.reason or exc}") from None
    except OSError as exc:
        raise ConfigError(f"TLS: cannot load {cert} and {key}: {exc.strerror or exc}") from None
    return context


def describe(context: ssl.SSLContext) -> str:
    """``"TLS 1.2+"``-style summary of what ``context`` accepts, for the start-up log."""
    version = context.minimum_version.name.replace("TLSv", "TLS ").replace("_", ".")
    return f"{version} or newer"
