"""``python -m pollchat.client``: the same as ``pollchat-client``."""

import sys

from pollchat.client.cli import main

sys.exit(main())
