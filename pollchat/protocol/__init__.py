"""The wire protocol, pure: no sockets, no clock, no logging.

* :mod:`.framing` -- bytes in any chunking to complete lines (or per-line errors).
* :mod:`.names` -- account-name rules and the case-insensitive key.
* :mod:`.events` -- the typed server events.
* :mod:`.render` -- server events to bytes, as text lines or JSON Lines, and back.
* :mod:`.session` -- the per-connection login state machine: lines to client actions.
"""
