"""``python -m pollchat``: say how to start the server and the client."""

import sys

USAGE = """\
usage: python -m pollchat.server [--max-users N] ...   run the chat server (pollchat-server)
       python -m pollchat.client HOST [--port 3490]    connect to one (pollchat-client)
"""

if __name__ == "__main__":
    sys.stdout.write(USAGE)
    sys.exit(0 if len(sys.argv) == 1 else 2)
