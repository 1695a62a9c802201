"""The terminal UI's behaviour, without a terminal or a socket (pure, clock injected).

:class:`App` is fed three kinds of input and produces lines to send plus a few effects:

* keys (:meth:`App.key`, :mod:`pollchat.client.keys`): :class:`~pollchat.client.ui.Key`
  values for special keys, one-character strings for typed text, already decoded by the
  curses front end; a line typed in the input box becomes what
  :mod:`pollchat.client.typed` says;
* server lines (:meth:`App.server_line`, :mod:`pollchat.client.events`) decoded with
  :func:`~pollchat.protocol.render.decode_json_labelled` and applied to the
  :class:`~pollchat.client.state.ChatState`; answers to the client's own requests are
  matched by label (:mod:`pollchat.client.requests`);
* the connection's fate (:meth:`App.connected`, :meth:`App.connection_failed`) and the
  passing of time (:meth:`App.tick`), in :mod:`pollchat.client.base`.

After each call the front end takes :meth:`App.drain` (an
:class:`~pollchat.client.ui.Output`): the lines to send, whether to ring
the bell, close the connection, save the settings or quit. The screen is drawn from the
App by :func:`pollchat.client.screen.render`.

Credentials live only in :attr:`App.credentials`, in memory: they are sent on each
(re)connection and never drawn, logged or saved.
"""

from __future__ import annotations

from pollchat.client.base import (
    GROUP_HISTORY,
    INPUT_HISTORY,
    MAX_AUTO_WHOIS,
    STATUS_SECONDS,
    WHO_EVERY,
    WHO_SOON,
)
from pollchat.client.events import ServerEvents
from pollchat.client.keys import KeyHandling

__all__ = ["App", "GROUP_HISTORY", "INPUT_HISTORY", "MAX_AUTO_WHOIS", "STATUS_SECONDS", "WHO_EVERY", "WHO_SOON"]


class App(KeyHandling, ServerEvents):
    """The TUI client's logic: see the module doc. The arguments are
    :class:`~pollchat.client.base.AppBase`'s."""
