"""The wire protocol, pure: no sockets, no clock, no logging.

* :mod:`.codec` -- the per-connection codec contract every front end implements, and
  the line codec (TCP).
* :mod:`.framing` -- bytes in any chunking to complete lines (or per-line errors).
* :mod:`.names` -- account-name rules and the case-insensitive key.
* :mod:`.events` -- the typed server events.
* :mod:`.render` -- server events to bytes, as text lines or JSON Lines, and back.
* :mod:`.session` -- the per-connection login state machine: lines to session steps.
* :mod:`.http` -- HTTP/1.1 request heads, responses, static files from memory.
* :mod:`.websocket` -- RFC 6455 server side: the handshake and the frames.
* :mod:`.web` -- :class:`~.web.WebCodec`, the browser front end (HTTP, then WebSocket).
"""
