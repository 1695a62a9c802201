"""``python -m pollchat.server``: the same as ``pollchat-server``."""

import sys

from pollchat.server.cli import main

sys.exit(main())
