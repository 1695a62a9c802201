"""The line client: connects to a pollchat server, shows what it says, sends what you type.

Never imports :mod:`pollchat.server`, :mod:`pollchat.store` or :mod:`pollchat.core`; it
speaks the wire protocol through :mod:`pollchat.protocol` only. Modules:

* :mod:`.plain` -- the line-mode front end: pure rendering of server lines
  (:func:`~pollchat.client.plain.render_incoming`) and the ``selectors`` loop over stdin
  and the socket (:func:`~pollchat.client.plain.run`).
* :mod:`.cli` -- ``pollchat-client``: arguments, connecting, the password prompt, and the
  choice between the full-screen UI and line mode.
* The full-screen UI (docs/client.md): :mod:`.tui` (curses and the ``selectors`` loop)
  over pure parts: :mod:`.app` (behaviour), :mod:`.state` (chat state), :mod:`.screen`
  (rendering), :mod:`.textwidth` (display widths), :mod:`.reconnect` (backoff),
  :mod:`.config` (the settings file).
* :mod:`.textclean` -- control characters out of server text, for both front ends.
* :mod:`.tls` -- ``--tls``: the verified context and the non-blocking TLS stream both
  front ends drive (no fallback to plain text), one-line failures.
"""
