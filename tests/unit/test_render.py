"""Rendering server events (pollchat.protocol.render): seed-004 text lines and JSON Lines.

A golden table of every event type's text bytes (every error and notice code included,
history lines with their ``[YYYY-MM-DD HH:MM] `` UTC prefix); JSON goldens (the examples
of docs/protocol.md decode and re-encode byte for byte, plus one record per event type);
history records carry ``"history":true`` and the message's own time as ``ts``; an empty
``/quit`` reason is left out; every JSON record has ``type`` and an ISO 8601 UTC ``ts``
with milliseconds and ``Z``; ``decode_json`` inverts ``encode_json`` (goldens and a
property) and raises only ``ProtocolError`` on garbage (property); rendered bytes never
contain ``\\r`` or NUL.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.errors import ProtocolError
from pollchat.protocol.events import (
    Emote,
    Announcement,
    Entered,
    Error,
    Greeting,
    GroupEntry,
    GroupEvent,
    GroupList,
    HistoryEnd,
    HistoryStart,
    Left,
    MemberEntry,
    MemberList,
    Mention,
    Message,
    ModeSwitched,
    Notice,
    Older,
    PrivateMessage,
    Receipt,
    Renamed,
    SearchResults,
    ShutdownCancelled,
    ShutdownWarning,
    ShuttingDown,
    StatusChanged,
    StoredMessage,
    Typing,
    Welcome,
    WhoEntry,
    Whois,
    WhoList,
)
from pollchat.protocol.render import (
    EVENT_TYPES,
    decode_json,
    encode_json,
    encode_text,
    format_duration,
    format_time,
    format_ts,
    render_text,
)
from pollchat.texts import ErrorCode, GroupChange, NoticeCode
from tests import REPO_ROOT
from tests.strategies import event_time, server_events, whole_ms_times

TS_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
AT = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC

TEXT_GOLDEN = [
    (Greeting(), b"type login or register and then give user,password\n"),
    (Welcome("a", ("a", "b")), b"Access Provided\nactive users are: a b\n"),
    (Welcome("user1", ("user1",)), b"Access Provided\nactive users are: user1\n"),
    (Entered("bob"), b"bob has entered the chat\n"),
    (Left("bob"), b"bob has left the chat\n"),
    (Message("user1", "hello"), b"user1: hello\n"),
    (Message("user1", "hello everyone"), b"user1: hello everyone\n"),
    (Message("José", "olá ☃\tok"), "José: olá ☃\tok\n".encode()),
    (Error.of(ErrorCode.WRONG_PASSWORD), b"Wrong Password\n"),
    (Error.of(ErrorCode.ALREADY_ONLINE), b"Password already used\n"),
    (Error.of(ErrorCode.NAME_TAKEN), b"username is already used\n"),
    (Error.of(ErrorCode.BAD_FORMAT), b"Type the format user,password\n"),
    (Error.of(ErrorCode.SERVER_FULL), b"Max number of chat users\n"),
    (Error.of(ErrorCode.TOO_MANY_ATTEMPTS), b"too many failed attempts, closing the connection\n"),
    (Error.of(ErrorCode.LOCKED_OUT, seconds=900), b"too many attempts, try again in 900 s\n"),
    (Error.of(ErrorCode.LINE_TOO_LONG, limit=4096), b"line too long (over 4096 bytes), discarded\n"),
    (Error.of(ErrorCode.BAD_ENCODING), b"line is not valid UTF-8, discarded\n"),
    (Error.of(ErrorCode.CONTROL_CHARACTERS), b"line contains control characters, discarded\n"),
    (
        Error.of(ErrorCode.MULTILINE_MESSAGE),
        b"a WebSocket message must be one line: this one has a line break inside, discarded\n",
    ),
    (Error.of(ErrorCode.PASSWORD_TOO_SHORT, minimum=8), b"password too short: at least 8 characters\n"),
    (Error.of(ErrorCode.PASSWORD_BLANK), b"a password cannot be only spaces\n"),
    (Error.of(ErrorCode.LOOKALIKE_NAME), b"that name looks too much like an existing one\n"),
    (
        Error.of(ErrorCode.MAILBOX_FULL, name="bob", limit=500),
        b"bob's mailbox is full (500 unread messages): your message was not sent\n",
    ),
    (
        Error.of(ErrorCode.MIXED_SCRIPT_NAME),
        b"that name mixes Latin, Cyrillic or Greek letters: write it in one alphabet\n",
    ),
    (
        Error.of(ErrorCode.INVISIBLE_CHARACTERS, char="U+202E"),
        b"line contains an invisible or text-direction character (U+202E), discarded\n",
    ),
    (Error.of(ErrorCode.TOO_SLOW), b"you are not reading your messages, closing the connection\n"),
    (Error.of(ErrorCode.INTERNAL), b"server error, please try again later\n"),
    (Error.of(ErrorCode.CLUSTER_UNAVAILABLE), b"the cluster is unavailable, try again shortly\n"),
    (Error.of(ErrorCode.CLUSTER_LINE_LOCAL), b"the cluster is unavailable: your line reached only the users of this server\n"),
    (Error.of(ErrorCode.UNKNOWN_COMMAND, name="foo"), b"unknown command /foo (try /help)\n"),
    (Error.of(ErrorCode.USAGE, usage="/msg NAME text"), b"usage: /msg NAME text\n"),
    (Error.of(ErrorCode.NO_SUCH_USER, name="zed"), b"no such user: zed\n"),
    (Error.of(ErrorCode.MESSAGE_TO_SELF), b"you cannot send a private message to yourself\n"),
    (Error.of(ErrorCode.BAD_NAME, name="a b"), b"invalid name 'a b': 1 to 32 letters, digits, '_', '-' or '.'\n"),
    (
        Error.of(ErrorCode.PRECONFIGURED_ACCOUNT, name="user1"),
        b"user1 is a preconfigured account: it belongs to the server's accounts file\n",
    ),
    (Error.of(ErrorCode.NOT_ALONE), b"the game is only for when nobody else is here\n"),
    (Error.of(ErrorCode.NO_SUCH_COMMAND_HELP, name="nope"), b"no manual entry for /nope (try /help)\n"),
    (ModeSwitched("json"), b"mode json\n"),
    (ModeSwitched("text"), b"mode text\n"),
    (ShuttingDown(), b"server is shutting down\n"),
    # --- issue 3: messaging, presence, history
    (Left("bob", "good night"), b"bob has left the chat (good night)\n"),
    (Emote("bob", "waves"), b"* bob waves\n"),
    (Emote("José", "drinks ☕"), "* José drinks ☕\n".encode()),
    (PrivateMessage("alice", "bob", "are you there?"), b"[private] alice: are you there?\n"),
    (PrivateMessage("alice", "bob", "are you there?", outgoing=True), b"[private to bob] are you there?\n"),
    (StatusChanged("bob", "away"), b"bob is now away\n"),
    (StatusChanged("bob", "busy", "in a meeting"), b"bob is now busy: in a meeting\n"),
    (StatusChanged("bob", "inactive"), b"bob is now inactive\n"),
    (WhoList(()), b"online users (0):\n"),
    (
        WhoList((WhoEntry("user1", "active", "", 42), WhoEntry("bob", "away", "lunch", 3600))),
        b"online users (2):\n  user1 - active, idle 42s\n  bob - away: lunch, idle 1h\n",
    ),
    (
        Whois("alice", "registered", True, "busy", "meeting", AT, 125),
        b"alice: busy: meeting, online since 2023-11-14 22:13, idle 2m, registered account\n",
    ),
    (
        Whois("user1", "preconfigured", True, "active", "", AT, 0),
        b"user1: active, online since 2023-11-14 22:13, idle 0s, preconfigured account\n",
    ),
    (
        Whois("carol", "preconfigured", False, "offline", "", AT, None),
        b"carol: offline, last seen 2023-11-14 22:13, preconfigured account\n",
    ),
    (Whois("dave", "registered", False, "offline", "", None, None), b"dave: offline, never seen, registered account\n"),
    (Renamed("bob", "bobby"), b"bob is now known as bobby\n"),
    (HistoryStart(3), b"--- 3 earlier messages ---\n"),
    (HistoryStart(1), b"--- 1 earlier message ---\n"),
    (HistoryEnd(), b"--- end of history ---\n"),
    (Message("bob", "hi all", history=True, at=AT), b"[2023-11-14 22:13] bob: hi all\n"),
    (Emote("bob", "waves", history=True, at=AT), b"[2023-11-14 22:13] * bob waves\n"),
    (
        PrivateMessage("alice", "bob", "psst", history=True, at=AT + 86_400),
        b"[2023-11-15 22:13] [private] alice: psst\n",
    ),
    (
        PrivateMessage("alice", "bob", "psst", outgoing=True, history=True, at=0.0),
        b"[1970-01-01 00:00] [private to bob] psst\n",
    ),
    # --- every notice code
    (
        Notice.of(NoticeCode.PRIVATE_OFFLINE, name="carol"),
        b"carol is offline; they will see your message when they log in\n",
    ),
    (
        Notice.of(NoticeCode.PRIVATE_OFFLINE_UNSAVED, name="carol"),
        b"carol is offline, and the server cannot save messages right now: "
        b"yours is kept and retried, but carol may never see it\n",
    ),
    (
        Notice.of(NoticeCode.NOT_SAVED, where="#familia"),
        b"your message to #familia could not be saved yet (the server cannot write its history): "
        b"it is kept and retried, but may be lost\n",
    ),
    (
        Notice.of(NoticeCode.GROUP_LINES_LOST, count=2, group="familia"),
        b"2 line(s) you sent to #familia just now went to a group of that name another server had already made: "
        b"they were not kept; #familia is that group now, send them again there\n",
    ),
    (Notice.of(NoticeCode.RECIPIENT_AWAY, name="bob", status="away", message="lunch"), b"bob is away: lunch\n"),
    (Notice.of(NoticeCode.RECIPIENT_AWAY_NO_MESSAGE, name="bob", status="busy"), b"bob is busy\n"),
    (Notice.of(NoticeCode.PASSWORD_CHANGED), b"password changed\n"),
    (
        Notice.of(NoticeCode.IGNORED, name="troll"),
        b"you ignore troll now: their lines, actions, private messages, mentions and typing are not shown to you"
        b" (/unignore troll undoes it)\n",
    ),
    (Notice.of(NoticeCode.ALREADY_IGNORED, name="troll"), b"you ignore troll already\n"),
    (Notice.of(NoticeCode.UNIGNORED, name="troll"), b"you no longer ignore troll\n"),
    (Notice.of(NoticeCode.IGNORE_LIST, names="troll, spam"), b"you ignore: troll, spam\n"),
    (Notice.of(NoticeCode.IGNORE_NONE), b"you ignore nobody (/ignore NAME hides someone's lines from you)\n"),
    (
        Error.of(ErrorCode.TOO_MANY_SESSIONS, limit=3),
        b"this account is logged in on 3 devices already, the most allowed: log out on one of them first\n",
    ),
    (Error.of(ErrorCode.IGNORE_SELF), b"you cannot ignore yourself\n"),
    (Error.of(ErrorCode.NOT_IGNORED, name="troll"), b"you do not ignore troll\n"),
    (Notice.of(NoticeCode.UNREGISTERED, name="bob"), b"account bob deleted, goodbye\n"),
    (Notice.of(NoticeCode.GOODBYE), b"goodbye\n"),
    (
        Notice.of(NoticeCode.OFFLINE_MESSAGES, count=3),
        b"3 private message(s) arrived while you were away: type /history to read them\n",
    ),
    (Notice.of(NoticeCode.HISTORY_EMPTY), b"no messages yet\n"),
    (Notice.of(NoticeCode.HELP, text="pollchat manual\n\n/who  list"), b"pollchat manual\n\n/who  list\n"),
    (
        Notice.of(NoticeCode.GAME_OFFER),
        b"nobody else is here yet: type /play for a guess-the-number game while you wait\n",
    ),
    (
        Notice.of(NoticeCode.GAME_START, top=100),
        b"I picked a number from 1 to 100: type your guesses (/play again to stop)\n",
    ),
    (Notice.of(NoticeCode.GAME_HIGHER, guess=3), b"3 is too low, try higher\n"),
    (Notice.of(NoticeCode.GAME_LOWER, guess=90), b"90 is too high, try lower\n"),
    (Notice.of(NoticeCode.GAME_WON, guess=42, tries=5), b"42 is right, found in 5 guess(es)!\n"),
    (Notice.of(NoticeCode.GAME_NOT_A_NUMBER, top=100), b"type a number from 1 to 100 (or /play to stop)\n"),
    (Notice.of(NoticeCode.GAME_STOPPED), b"game stopped\n"),
    (Notice.of(NoticeCode.GAME_OVER, name="bob"), b"bob has arrived: the game is over\n"),
    (
        Notice.of(NoticeCode.ANNOUNCEMENTS_OFF, limit=1000),
        b"more than 1000 users are online: entered and left notices are off while so many are (/who lists who is online)\n",
    ),
    # --- issue 5: admin commands and protection
    (Announcement("root", "restart at 22:00"), b"*** announcement from root: restart at 22:00\n"),
    (ShutdownWarning(30, "upgrade"), b"*** the server shuts down in 30 second(s): upgrade\n"),
    (ShutdownWarning(1), b"*** the server shuts down in 1 second(s)\n"),
    (ShutdownCancelled(), b"*** the shutdown was cancelled\n"),
    (
        WhoList(
            (WhoEntry("user1", "active", "", 5, 12, "192.0.2.7:50122"), WhoEntry("bob", "away", "lunch", 60, 3, "[::1]:4000"))
        ),
        (
            b"online users (2):\n  user1 - active, idle 5s (connection #12 from 192.0.2.7:50122)\n"
            b"  bob - away: lunch, idle 1m (connection #3 from [::1]:4000)\n"
        ),
    ),
    (Error.of(ErrorCode.NOT_ADMIN, name="kick"), b"/kick is for admins only\n"),
    (Error.of(ErrorCode.NOT_ONLINE, name="bob"), b"bob is not online\n"),
    (Error.of(ErrorCode.NOT_YOURSELF, name="ban"), b"you cannot /ban yourself\n"),
    (Error.of(ErrorCode.NOT_BANNED, name="bob"), b"bob is not banned\n"),
    (
        Error.of(ErrorCode.BANNED, until="until 2023-11-15 00:13 UTC", reason=": calm down"),
        b"this account is banned until 2023-11-15 00:13 UTC: calm down\n",
    ),
    (
        Error.of(ErrorCode.BAD_DURATION, text="2x"),
        b"invalid duration '2x': use a number with s, m, h or d (e.g. 30m, 2h, 7d)\n",
    ),
    (Error.of(ErrorCode.NO_SHUTDOWN), b"no shutdown is under way\n"),
    (Error.of(ErrorCode.SERVER_CLOSING), b"the server is shutting down; try again later\n"),
    (Error.of(ErrorCode.TOO_MANY_CONNECTIONS), b"too many connections from your address, closing this one\n"),
    (Error.of(ErrorCode.SERVER_BUSY), b"the server has too many connections, try again later\n"),
    (Error.of(ErrorCode.REGISTER_RATE), b"too many new accounts from your address, try again later\n"),
    (Error.of(ErrorCode.ADDRESS_BANNED, until="for good", reason=": spam"), b"your address is banned for good: spam\n"),
    (Error.of(ErrorCode.NO_NEW_ACCOUNTS, limit=3), b"this server takes no new accounts (it has 3, the most allowed)\n"),
    (Error.of(ErrorCode.DATABASE_UNAVAILABLE), b"the account database is unavailable, try again shortly\n"),
    (Error.of(ErrorCode.LOGIN_TIMEOUT, seconds="30"), b"no login within 30 seconds, closing the connection\n"),
    (Error.of(ErrorCode.FLOODING), b"too many lines too fast, closing the connection\n"),
    (Error.of(ErrorCode.ALREADY_LOGGED_IN), b"you are already logged in; that line was not sent\n"),
    (Notice.of(NoticeCode.KICKED, by="root", reason=": flooding"), b"you were disconnected by root: flooding\n"),
    (Notice.of(NoticeCode.KICKED, by="root", reason=""), b"you were disconnected by root\n"),
    (
        Notice.of(NoticeCode.BANNED_NOW, by="root", until="for good", reason=": spam"),
        b"you are banned by root for good: spam\n",
    ),
    (Notice.of(NoticeCode.KICK_DONE, name="bob"), b"bob was disconnected\n"),
    (
        Notice.of(NoticeCode.BAN_DONE, name="bob", until="until 2023-11-15 00:13 UTC"),
        b"bob is banned until 2023-11-15 00:13 UTC\n",
    ),
    (Notice.of(NoticeCode.UNBAN_DONE, name="bob"), b"bob is no longer banned\n"),
    (
        Notice.of(NoticeCode.SHUTDOWN_STARTED, seconds=30),
        b"shutdown in 30 second(s) started; /shutdown cancel stops it\n",
    ),
    (Notice.of(NoticeCode.SHUTDOWN_CANCELLED_DONE), b"shutdown cancelled\n"),
    (
        Notice.of(NoticeCode.RATE_WARNING, rate="10"),
        b"slow down: at most 10 lines per second; lines are being dropped and flooding on will disconnect you\n",
    ),
    # --- issue 6: typing indicators (JSON mode only on the wire; the text form is for the line client)
    (Typing("alice", True), b"alice is typing...\n"),
    (Typing("alice", False), b"alice stopped typing\n"),
    (Typing("alice", True, private=True), b"alice is typing...\n"),
    # --- issue 4: groups and mentions
    (Message("alice", "hi all", group="familia"), b"[#familia] alice: hi all\n"),
    (Emote("alice", "waves", group="familia"), b"[#familia] * alice waves\n"),
    (
        Message("alice", "hi", history=True, at=1_700_000_000.0, group="familia"),
        b"[2023-11-14 22:13] [#familia] alice: hi\n",
    ),
    (Typing("alice", True, group="familia"), b"alice is typing...\n"),
    (Mention("alice", "hi @bob", "familia"), b"[mention] alice mentioned you in #familia\n"),
    (Mention("alice", "hi @bob"), b"[mention] alice mentioned you in the main chat\n"),
    (
        GroupEvent("familia", GroupChange.CREATED, text="private"),
        b"[#familia] private group created: others join with /join #familia\n",
    ),
    (GroupEvent("familia", GroupChange.JOINED, "bob"), b"[#familia] bob has joined the group\n"),
    (GroupEvent("familia", GroupChange.LEFT, "bob"), b"[#familia] bob has left the group\n"),
    (
        GroupEvent("familia", GroupChange.REQUESTED),
        b"[#familia] your request to join was sent to the owner: analysis in progress\n",
    ),
    (
        GroupEvent("familia", GroupChange.REQUEST, "bob"),
        b"[#familia] bob asks to join: /accept bob #familia or /reject bob #familia\n",
    ),
    (
        GroupEvent("familia", GroupChange.ACCEPTED, by="alice"),
        b"[#familia] your request to join was accepted by alice\n",
    ),
    (
        GroupEvent("familia", GroupChange.REJECTED, by="alice"),
        b"[#familia] your request to join was rejected by alice\n",
    ),
    (
        GroupEvent("familia", GroupChange.REQUEST_REJECTED, "bob", "alice"),
        b"[#familia] the request of bob was rejected by alice\n",
    ),
    (
        GroupEvent("familia", GroupChange.KICKED, "bob", "alice"),
        b"[#familia] bob was removed from the group by alice\n",
    ),
    (
        GroupEvent("familia", GroupChange.BANNED, "bob", "alice"),
        b"[#familia] bob was banned from the group by alice\n",
    ),
    (GroupEvent("familia", GroupChange.UNBANNED, "bob"), b"[#familia] bob is no longer banned from the group\n"),
    (GroupEvent("familia", GroupChange.OWNER, "bob"), b"[#familia] bob is now the owner\n"),
    (
        GroupEvent("familia", GroupChange.RENAMED, by="alice", text="family"),
        b"[#familia] the group is now #family (renamed by alice)\n",
    ),
    (GroupEvent("familia", GroupChange.DELETED, by="alice"), b"[#familia] the group was deleted by alice\n"),
    (GroupEvent("familia", GroupChange.DISBANDED), b"[#familia] the group was deleted: its last member left\n"),
    (
        GroupEvent("familia", GroupChange.TOPIC, by="alice", text="sunday lunch"),
        b"[#familia] alice set the topic: sunday lunch\n",
    ),
    (GroupEvent("familia", GroupChange.TOPIC_IS, text="sunday lunch"), b"[#familia] topic: sunday lunch\n"),
    (GroupEvent("familia", GroupChange.TOPIC_CLEARED, by="alice"), b"[#familia] alice cleared the topic\n"),
    (Error.of(ErrorCode.SAME_GROUP_NAME, group="familia"), b"#familia is already called that\n"),
    (
        Error.of(ErrorCode.GROUP_NEEDS_HASH, command="ban", name="bob", group="familia"),
        b"#familia is a group: write /ban bob #familia (a one-word reason naming a group is not taken)\n",
    ),
    (GroupEvent("familia", GroupChange.NO_TOPIC), b"[#familia] no topic set\n"),
    (
        GroupList(
            (
                GroupEntry("familia", "private", 3, "owner", "sunday lunch"),
                GroupEntry("random", "public", 12, "", ""),
            )
        ),
        b"groups (2):\n  #familia - private, 3 member(s), owner; topic: sunday lunch\n  #random - public, 12 member(s)\n",
    ),
    (GroupList(()), b"groups (0):\n  none yet: /create #name starts one\n"),
    (
        MemberList("familia", (MemberEntry("alice", "active", True), MemberEntry("bob", "offline", False)), ("carol",)),
        b"members of #familia (2):\n  alice - active, owner\n  bob - offline\n  waiting to join: carol\n",
    ),
    (Notice.of(NoticeCode.FOCUS_GROUP, group="familia"), b"plain lines now go to #familia; /focus alone returns to the main chat\n"),
    (Notice.of(NoticeCode.FOCUS_MAIN), b"plain lines now go to the main chat\n"),
    (
        Notice.of(NoticeCode.YOUR_GROUPS, names="#familia, #random"),
        b"your groups: #familia, #random (/groups lists them; #name text writes to one)\n",
    ),
    (
        Error.of(ErrorCode.BAD_GROUP_NAME, name="a b"),
        b"invalid group name 'a b': # then 1 to 32 letters, digits, '_', '-' or '.'\n",
    ),
    (Error.of(ErrorCode.NO_SUCH_GROUP, group="familia"), b"no such group: #familia\n"),
    (Error.of(ErrorCode.GROUP_EXISTS, group="familia"), b"#familia exists already\n"),
    (Error.of(ErrorCode.NOT_MEMBER, group="familia"), b"you are not a member of #familia\n"),
    (
        Error.of(ErrorCode.NOT_MEMBER_LINE, group="familia"),
        b"you are not a member of #familia; that line was not sent (/join #familia first)\n",
    ),
    (
        Error.of(ErrorCode.NOT_IN_GROUP_LINE, group="famila"),
        b"you are not in #famila: that line was not sent (to say it to everyone anyway: /say #famila ...)\n",
    ),
    (Error.of(ErrorCode.ALREADY_MEMBER, group="familia"), b"you are already a member of #familia\n"),
    (Error.of(ErrorCode.NOT_GROUP_OWNER, group="familia"), b"only the owner of #familia (or an admin) can do that\n"),
    (Error.of(ErrorCode.GROUP_BANNED, group="familia"), b"you are banned from #familia\n"),
    (
        Error.of(ErrorCode.REQUEST_PENDING, group="familia"),
        b"your request to join #familia is already waiting for the owner\n",
    ),
    (Error.of(ErrorCode.NO_REQUEST, name="bob", group="familia"), b"bob has not asked to join #familia\n"),
    (Error.of(ErrorCode.NOT_A_MEMBER, name="bob", group="familia"), b"bob is not a member of #familia\n"),
    (Error.of(ErrorCode.GROUP_NOT_BANNED, name="bob", group="familia"), b"bob is not banned from #familia\n"),
    (
        Error.of(ErrorCode.OWNER_PROTECTED, name="alice", group="familia"),
        b"alice owns #familia: the owner cannot be removed or banned\n",
    ),
    (Error.of(ErrorCode.TOO_MANY_GROUPS, limit=10), b"you own 10 group(s) already, the most allowed\n"),
    (Error.of(ErrorCode.GROUP_FULL, group="familia", limit=200), b"#familia is full (200 members)\n"),
    (
        Error.of(ErrorCode.TOO_MANY_REQUESTS, group="familia", limit=20),
        b"#familia has 20 join request(s) waiting already; try again later\n",
    ),
    (
        Older(
            "#familia",
            "now",
            (
                StoredMessage(41, "#familia", "message", "alice", "", "hi", False, AT),
                StoredMessage(42, "#familia", "action", "bob", "", "waves", False, AT + 60),
            ),
            True,
        ),
        b"--- 2 older message(s) in #familia ---\n[2023-11-14 22:13] [#familia] alice: hi\n"
        b"[2023-11-14 22:14] [#familia] * bob waves\n--- more: /older #familia 41 ---\n",
    ),
    (
        Older("@bob", "41", (StoredMessage(7, "@bob", "private", "alice", "bob", "psst", True, AT),), False),
        b"--- 1 older message(s) with bob ---\n[2023-11-14 22:13] [private to bob] psst\n--- start of the history ---\n",
    ),
    (Older("", "now", (), False), b"--- 0 older message(s) in the main chat ---\n--- start of the history ---\n"),
    (
        SearchResults(
            "lunch",
            "*",
            (
                StoredMessage(9, "@bob", "private", "bob", "alice", "lunch?", False, AT + 60),
                StoredMessage(3, "", "message", "carol", "", "lunch at 1", False, AT),
            ),
            20,
        ),
        b"--- 2 result(s) for 'lunch' in everything you can read, newest first (at most 20) ---\n"
        b"[2023-11-14 22:14] [private] bob: lunch?\n[2023-11-14 22:13] carol: lunch at 1\n--- end of results ---\n",
    ),
    (SearchResults("zebra", "#familia", (), 20), b"no messages match 'zebra' in #familia\n"),
    (Receipt("bob", AT), b"bob has read your messages sent until 2023-11-14 22:13\n"),
    (
        Notice.of(NoticeCode.RECEIPTS_ON),
        b"read receipts are on: people you write to see when you have read their messages, and you see when they "
        b"read yours (/receipts off stops both)\n",
    ),
    (
        Notice.of(NoticeCode.RECEIPTS_OFF),
        b"read receipts are off: nobody sees when you have read their messages, and you do not see when they read "
        b"yours (/receipts on)\n",
    ),
    (
        Error.of(ErrorCode.BAD_CURSOR, cursor="soon"),
        b"bad cursor 'soon': give a message id, a time such as 2026-11-21T10:39:59.750Z, or now\n",
    ),
    (Error.of(ErrorCode.BAD_TIME, time="soon"), b"bad time 'soon': give a time such as 2026-11-21T10:39:59.750Z, or now\n"),
    (
        Error.of(ErrorCode.BAD_SEARCH, minimum=2),
        b"search for at least one word of 2 or more letters or digits\n",
    ),
    (
        Error.of(ErrorCode.BAD_LABEL, limit=32),
        b"bad label: write @label=ID then a space and the line (ID: 1 to 32 letters, digits, '_', '-' or '.');"
        b" line discarded\n",
    ),
]


@pytest.mark.parametrize(("event", "expected"), TEXT_GOLDEN, ids=[repr(e) for e, _ in TEXT_GOLDEN])
def test_text_golden(event: object, expected: bytes) -> None:
    assert encode_text(event) == expected  # type: ignore[arg-type]
    assert render_text(event) + "\n" == expected.decode()  # type: ignore[arg-type]


def test_golden_table_covers_every_event_type_and_code() -> None:
    assert {type(e) for e, _ in TEXT_GOLDEN} == set(EVENT_TYPES)
    assert {e.code for e, _ in TEXT_GOLDEN if isinstance(e, Error)} == set(ErrorCode)
    assert {e.code for e, _ in TEXT_GOLDEN if isinstance(e, Notice)} == set(NoticeCode)
    assert {e.change for e, _ in TEXT_GOLDEN if isinstance(e, GroupEvent)} == set(GroupChange)
    history = [e for e, _ in TEXT_GOLDEN if getattr(e, "history", False)]
    assert {type(e) for e in history} == {Message, Emote, PrivateMessage}
    assert {e.outgoing for e in history if isinstance(e, PrivateMessage)} == {True, False}


@pytest.mark.parametrize(("event", "expected"), TEXT_GOLDEN, ids=[repr(e) for e, _ in TEXT_GOLDEN])
def test_every_golden_event_round_trips_through_json(event: object, expected: bytes) -> None:
    ts = event_time(event, 1_763_722_038.743)
    assert decode_json(encode_json(event, ts).decode()) == (event, ts)  # type: ignore[arg-type]
    assert decode_json(encode_json(event, ts).decode().removesuffix("\n")) == (event, ts)  # type: ignore[arg-type]


def test_history_prefix_is_utc_and_only_on_history_lines() -> None:
    # Live lines have no prefix, even with a time; history lines without a time have none.
    assert render_text(Message("bob", "hi", at=AT)) == "bob: hi"
    assert render_text(Message("bob", "hi", history=True)) == "bob: hi"
    assert render_text(Message("bob", "hi", history=True, at=AT + 39.999)) == "[2023-11-14 22:13] bob: hi"
    assert render_text(Message("bob", "hi", history=True, at=AT + 40)) == "[2023-11-14 22:14] bob: hi"
    assert format_time(AT) == "2023-11-14 22:13"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "0s"), (-5, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"), (86_399, "23h"),
     (86_400, "1d"), (10 * 86_400 + 5, "10d")],
)
def test_format_duration(seconds: int, expected: str) -> None:
    assert format_duration(seconds) == expected


def test_render_text_refuses_a_non_event() -> None:
    with pytest.raises(TypeError):
        render_text("not an event")  # type: ignore[arg-type]


# --- JSON ---------------------------------------------------------------------------------------

# The examples of docs/protocol.md ("JSON mode"), byte for byte.
DOC_EXAMPLES = [
    '{"type":"mode","mode":"json","ts":"2026-11-21T10:47:18.743Z"}',
    '{"type":"welcome","name":"alice","users":["user1","alice"],"ts":"2026-11-21T10:47:18.801Z"}',
    '{"type":"entered","name":"bob","ts":"2026-11-21T10:47:20.112Z"}',
    '{"type":"message","sender":"bob","text":"hi alice","ts":"2026-11-21T10:47:22.430Z"}',
    '{"type":"error","code":"wrong_password","text":"Wrong Password","ts":"2026-11-21T10:47:25.002Z"}',
    '{"type":"left","name":"bob","ts":"2026-11-21T10:47:30.551Z"}',
    '{"type":"shutdown","ts":"2026-11-21T10:48:00.000Z"}',
    # issue 3: one example of each messaging event
    '{"type":"private","sender":"bob","recipient":"alice","text":"psst","outgoing":false,"ts":"2026-11-21T10:50:00.000Z"}',
    '{"type":"private","sender":"bob","recipient":"alice","text":"psst","outgoing":true,"ts":"2026-11-21T10:50:01.111Z"}',
    '{"type":"action","sender":"bob","text":"waves","ts":"2026-11-21T10:50:02.222Z"}',
    '{"type":"status","name":"alice","status":"away","message":"lunch","ts":"2026-11-21T10:50:03.333Z"}',
    ('{"type":"who","users":[{"name":"alice","status":"away","message":"lunch","idle":75},'
    '{"name":"bob","status":"active","message":"","idle":3}],"ts":"2026-11-21T10:50:04.444Z"}'),
    ('{"type":"whois","name":"alice","kind":"registered","online":true,"status":"away","message":"lunch",'
    '"since":"2026-11-21T09:50:00.000Z","idle":75,"ts":"2026-11-21T10:50:05.555Z"}'),
    ('{"type":"whois","name":"carol","kind":"preconfigured","online":false,"status":"offline","message":"",'
    '"since":"2026-11-20T10:50:00.000Z","idle":null,"ts":"2026-11-21T10:50:06.666Z"}'),
    '{"type":"renamed","old":"bob","new":"bobby","ts":"2026-11-21T10:50:07.777Z"}',
    ('{"type":"notice","code":"private_offline","text":"carol is offline; they will see your message when they '
    'log in","ts":"2026-11-21T10:50:08.888Z"}'),
    '{"type":"left","name":"bobby","reason":"good night","ts":"2026-11-21T10:50:09.999Z"}',
    '{"type":"history_start","count":2,"ts":"2026-11-21T10:50:11.110Z"}',
    '{"type":"message","sender":"alice","text":"hi all","history":true,"id":1201,"ts":"2026-11-21T10:39:59.750Z"}',
    ('{"type":"private","sender":"bob","recipient":"alice","text":"psst","outgoing":false,"history":true,'
    '"id":1209,"ts":"2026-11-21T10:44:59.500Z"}'),
    '{"type":"history_end","ts":"2026-11-21T10:50:14.443Z"}',
    # issue 25: scrollback
    ('{"type":"older","conversation":"#familia","before":"1234","messages":[{"id":1201,"conversation":"#familia",'
    '"kind":"message","sender":"alice","recipient":"","text":"hi all","outgoing":false,"sent":"2026-11-21T10:39:59.750Z"},'
    '{"id":1230,"conversation":"#familia","kind":"action","sender":"bob","recipient":"","text":"waves","outgoing":false,'
    '"sent":"2026-11-21T10:41:00.000Z"}],"more":true,"ts":"2026-11-21T10:50:16.000Z"}'),
    ('{"type":"search","query":"lunch friday","conversation":"*","results":[{"id":1290,"conversation":"#familia",'
    '"kind":"message","sender":"carol","recipient":"","text":"lunch at grandma\'s on friday","outgoing":false,'
    '"sent":"2026-11-21T10:41:00.000Z"},{"id":1209,"conversation":"@bob","kind":"private","sender":"bob",'
    '"recipient":"alice","text":"friday lunch?","outgoing":false,"sent":"2026-11-21T10:39:00.000Z"}],"limit":20,'
    '"ts":"2026-11-21T10:50:17.000Z"}'),
    '{"type":"receipt","name":"bob","until":"2026-11-21T10:44:59.501Z","ts":"2026-11-21T10:50:18.000Z"}',
    '{"type":"error","code":"unknown_command","text":"unknown command /foo (try /help)","ts":"2026-11-21T10:50:15.554Z"}',
    # issue 5: the admin events
    '{"type":"announcement","sender":"root","text":"the server restarts at 22:00","ts":"2026-11-21T10:51:00.000Z"}',
    '{"type":"shutdown_warning","seconds":30,"reason":"upgrade","ts":"2026-11-21T10:51:01.250Z"}',
    '{"type":"shutdown_cancelled","ts":"2026-11-21T10:51:02.500Z"}',
    # issue 6: typing indicators
    '{"type":"typing","name":"bob","active":true,"private":true,"ts":"2026-11-21T10:51:03.750Z"}',
]


@pytest.mark.parametrize("line", DOC_EXAMPLES)
def test_documented_json_examples_round_trip_byte_for_byte(line: str) -> None:
    event, ts = decode_json(line)
    assert encode_json(event, ts) == line.encode() + b"\n"


def test_json_golden_values() -> None:
    ts = datetime(2026, 11, 21, 10, 47, 25, 2000, tzinfo=timezone.utc).timestamp()
    assert decode_json(DOC_EXAMPLES[4]) == (Error.of(ErrorCode.WRONG_PASSWORD), ts)
    assert encode_json(Greeting(), 0) == b'{"type":"greeting","ts":"1970-01-01T00:00:00.000Z"}\n'
    assert encode_json(Message("José", "olá"), 1.5) == (
        '{"type":"message","sender":"José","text":"olá","ts":"1970-01-01T00:00:01.500Z"}\n'.encode()
    )
    assert json.loads(encode_json(Error.of(ErrorCode.LINE_TOO_LONG, limit=10), 0)) == {
        "type": "error",
        "code": "line_too_long",
        "text": "line too long (over 10 bytes), discarded",
        "ts": "1970-01-01T00:00:00.000Z",
    }


def _json(event: object, ts: float = 0.0) -> dict[str, object]:
    return json.loads(encode_json(event, ts))  # type: ignore[arg-type]


T0 = "1970-01-01T00:00:00.000Z"


def test_json_goldens_of_the_messaging_events() -> None:
    assert _json(Emote("bob", "waves")) == {"type": "action", "sender": "bob", "text": "waves", "ts": T0}
    assert _json(PrivateMessage("a", "b", "hi")) == {
        "type": "private", "sender": "a", "recipient": "b", "text": "hi", "outgoing": False, "ts": T0,
    }
    assert _json(PrivateMessage("a", "b", "hi", outgoing=True))["outgoing"] is True
    assert _json(StatusChanged("bob", "away")) == {"type": "status", "name": "bob", "status": "away", "message": "", "ts": T0}
    assert _json(WhoList((WhoEntry("a", "busy", "x", 5),))) == {
        "type": "who", "users": [{"name": "a", "status": "busy", "message": "x", "idle": 5}], "ts": T0,
    }
    assert _json(Whois("dave", "registered", False, "offline", "", None, None)) == {
        "type": "whois", "name": "dave", "kind": "registered", "online": False, "status": "offline",
        "message": "", "since": None, "idle": None, "ts": T0,
    }
    assert _json(Whois("al", "registered", True, "active", "", 1.5, 7))["since"] == "1970-01-01T00:00:01.500Z"
    assert _json(Renamed("a", "b")) == {"type": "renamed", "old": "a", "new": "b", "ts": T0}
    assert _json(Notice.of(NoticeCode.GAME_OVER, name="bob")) == {
        "type": "notice", "code": "game_over", "text": "bob has arrived: the game is over", "ts": T0,
    }
    assert _json(HistoryStart(2)) == {"type": "history_start", "count": 2, "ts": T0}
    assert _json(HistoryEnd()) == {"type": "history_end", "ts": T0}


def test_json_goldens_of_the_admin_events() -> None:
    assert _json(Announcement("root", "hi all")) == {"type": "announcement", "sender": "root", "text": "hi all", "ts": T0}
    assert _json(ShutdownWarning(10, "upgrade")) == {"type": "shutdown_warning", "seconds": 10, "reason": "upgrade", "ts": T0}
    assert _json(ShutdownWarning(5)) == {"type": "shutdown_warning", "seconds": 5, "ts": T0}  # no empty reason
    assert _json(ShutdownCancelled()) == {"type": "shutdown_cancelled", "ts": T0}
    # an admin's /who carries connection ids and addresses; a user's has neither key
    assert _json(WhoList((WhoEntry("a", "active", "", 5, 7, "127.0.0.1:5000"),))) == {
        "type": "who",
        "users": [{"name": "a", "status": "active", "message": "", "idle": 5, "connection": 7, "address": "127.0.0.1:5000"}],
        "ts": T0,
    }
    assert _json(WhoList((WhoEntry("a", "active", "", 5),)))["users"] == [
        {"name": "a", "status": "active", "message": "", "idle": 5}
    ]


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"shutdown_warning","seconds":"10","ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"shutdown_warning","seconds":true,"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"announcement","sender":"root","text":5,"ts":"2026-01-01T00:00:00.000Z"}',
        ('{"type":"who","users":[{"name":"a","status":"active","message":"","idle":5,"connection":"7",'
         '"address":"x"}],"ts":"2026-01-01T00:00:00.000Z"}'),
        ('{"type":"who","users":[{"name":"a","status":"active","message":"","idle":5,"connection":7,'
         '"address":7}],"ts":"2026-01-01T00:00:00.000Z"}'),
    ],
)
def test_decode_json_refuses_admin_fields_of_the_wrong_type(line: str) -> None:
    with pytest.raises(ProtocolError):
        decode_json(line)


def test_json_goldens_of_the_typing_event() -> None:
    assert _json(Typing("alice", True)) == {"type": "typing", "name": "alice", "active": True, "private": False, "ts": T0}
    assert _json(Typing("alice", False, True)) == {
        "type": "typing", "name": "alice", "active": False, "private": True, "ts": T0,
    }


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"typing","name":"a","active":"yes","private":false,"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"typing","name":"a","active":true,"private":1,"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"typing","name":"a","active":true,"ts":"2026-01-01T00:00:00.000Z"}',
    ],
)
def test_decode_json_refuses_a_malformed_typing_event(line: str) -> None:
    with pytest.raises(ProtocolError):
        decode_json(line)


def test_json_left_omits_an_empty_reason() -> None:
    assert _json(Left("bob")) == {"type": "left", "name": "bob", "ts": T0}
    assert _json(Left("bob", "")) == {"type": "left", "name": "bob", "ts": T0}
    assert _json(Left("bob", "bye")) == {"type": "left", "name": "bob", "reason": "bye", "ts": T0}


@pytest.mark.parametrize(
    "event",
    [
        Message("bob", "hi", history=True, at=AT),
        Emote("bob", "waves", history=True, at=AT),
        PrivateMessage("a", "b", "psst", history=True, at=AT),
        PrivateMessage("a", "b", "psst", outgoing=True, history=True, at=AT),
    ],
    ids=repr,
)
def test_json_history_records_are_flagged_and_carry_their_own_time(event: object) -> None:
    obj = _json(event, ts=AT + 3600)  # sent an hour later: ts is still the message's time
    assert obj["history"] is True
    assert obj["ts"] == "2023-11-14T22:13:20.000Z"
    assert "at" not in obj
    assert decode_json(encode_json(event, AT + 3600).decode()) == (event, AT)  # type: ignore[arg-type]


def test_json_live_messages_have_no_history_flag() -> None:
    for event in (Message("a", "b"), Emote("a", "b"), PrivateMessage("a", "b", "c")):
        assert "history" not in _json(event)
        decoded, _ = decode_json(encode_json(event, 5).decode())
        assert decoded == event and decoded.at is None  # type: ignore[union-attr]


PROTOCOL_DOC = REPO_ROOT / "docs" / "protocol.md"


def documented_codes(heading: str) -> list[str]:
    """The backquoted codes of the paragraph of docs/protocol.md that starts with
    ``heading`` (e.g. ``Error codes:``), up to the next blank line."""
    text = PROTOCOL_DOC.read_text("utf-8")
    at = text.index("\n" + heading) + 1
    paragraph = text[at:].split("\n\n", 1)[0]
    return re.findall(r"`([a-z_]+)`", paragraph)


def test_error_codes_are_the_documented_ones() -> None:
    documented = documented_codes("Error codes:")
    assert len(documented) == len(set(documented))
    assert sorted(code.code for code in ErrorCode) == sorted(documented)
    # the foundation's and issue 3's codes are still there, with their names
    assert {"wrong_password", "already_online", "name_taken", "bad_format", "server_full", "too_many_attempts",
            "no_such_command_help", "not_alone"} <= set(documented)


def test_notice_codes_are_the_documented_ones() -> None:
    documented = documented_codes("Notice codes:")
    assert len(documented) == len(set(documented))
    assert sorted(code.code for code in NoticeCode) == sorted(documented)
    assert {"private_offline", "help", "game_over"} <= set(documented)


def test_every_json_event_type_is_documented() -> None:
    table = PROTOCOL_DOC.read_text("utf-8").split("## JSON mode", 1)[1]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE))
    assert set(EVENT_TYPES.values()) <= documented


def test_a_notice_and_an_error_with_the_same_code_name_decode_to_their_own_kind() -> None:
    notice = decode_json('{"type":"notice","code":"help","text":"x","ts":"2026-01-01T00:00:00.000Z"}')[0]
    assert notice == Notice(NoticeCode.HELP, "x")
    with pytest.raises(ProtocolError):  # an error code is not a notice code, and back
        decode_json('{"type":"notice","code":"wrong_password","text":"x","ts":"2026-01-01T00:00:00.000Z"}')
    with pytest.raises(ProtocolError):
        decode_json('{"type":"error","code":"help","text":"x","ts":"2026-01-01T00:00:00.000Z"}')


@pytest.mark.parametrize(
    ("ts", "expected"),
    [(0, "1970-01-01T00:00:00.000Z"), (1.5, "1970-01-01T00:00:01.500Z"), (1_700_000_000.123, "2023-11-14T22:13:20.123Z")],
)
def test_format_ts(ts: float, expected: str) -> None:
    assert format_ts(ts) == expected


@given(server_events(), st.floats(0, 4_102_444_800, allow_nan=False))
def test_json_record_shape(event: object, ts: float) -> None:
    data = encode_json(event, ts)  # type: ignore[arg-type]
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    obj = json.loads(data)
    assert obj["type"] == EVENT_TYPES[type(event)]
    assert TS_FORMAT.fullmatch(obj["ts"]), obj["ts"]
    parsed = datetime.fromisoformat(obj["ts"].replace("Z", "+00:00"))
    assert parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert abs(parsed.timestamp() - event_time(event, ts)) < 0.001
    assert "at" not in obj


@given(server_events(), whole_ms_times)
def test_decode_json_inverts_encode_json(event: object, ts: float) -> None:
    line = encode_json(event, ts).decode("utf-8")  # type: ignore[arg-type]
    assert decode_json(line[:-1]) == (event, event_time(event, ts))


def _json_values() -> st.SearchStrategy[object]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
        max_leaves=8,
    )


@st.composite
def _event_like_objects(draw: st.DrawFn) -> str:
    """JSON objects close to real events: a known type, plausible keys, random values."""
    obj: dict[str, object] = {}
    if draw(st.booleans()):
        obj["type"] = draw(st.sampled_from(sorted(EVENT_TYPES.values())) | _json_values())
    keys = ["name", "users", "sender", "text", "code", "mode", "x", "history", "since", "idle", "count", "reason",
            "seconds", "connection", "address"]
    for key in draw(st.lists(st.sampled_from(keys), max_size=4)):
        obj[key] = draw(
            _json_values()
            | st.sampled_from(["wrong_password", "WRONG_PASSWORD", "json", "help", "2026-11-21T10:47:18.743Z"])
        )
    if draw(st.booleans()):
        obj["ts"] = draw(
            st.sampled_from(["2026-11-21T10:47:18.743Z", "2026-11-21", "not a date", "9999-12-31T23:59:59-23:59"])
            | _json_values()
        )
    return json.dumps(obj)


@given(st.one_of(st.text(max_size=60), _json_values().map(json.dumps), _event_like_objects()))
def test_decode_json_raises_only_protocol_error(line: str) -> None:
    try:
        result = decode_json(line)
    except ProtocolError as error:
        assert error.code is ErrorCode.BAD_FORMAT
    else:
        event, ts = result
        assert type(event) in EVENT_TYPES
        assert isinstance(ts, float)
        assert isinstance(render_text(event), str)  # a decoded event can be shown


@pytest.mark.parametrize(
    "line",
    ["", "{", "null", "[]", "42", '"text"', "{}", '{"type":"nope","ts":"2026-01-01T00:00:00Z"}',
     '{"type":"entered","ts":"2026-01-01T00:00:00Z"}', '{"type":"entered","name":"a"}',
     '{"type":"error","code":"nope","text":"x","ts":"2026-01-01T00:00:00Z"}',
     '{"type":"entered","name":"a","ts":"yesterday"}', '{"type":"entered","name":"a","ts":5}'],
)
def test_decode_json_garbage_examples(line: str) -> None:
    with pytest.raises(ProtocolError):
        decode_json(line)


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"who","users":[{"name":"a","status":"active","message":"","idle":"5"}],"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"who","users":["a"],"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"who","users":[{"name":"a","status":"active","message":""}],"ts":"2026-01-01T00:00:00.000Z"}',
        ('{"type":"whois","name":"a","kind":"registered","online":"yes","status":"active","message":"",'
        '"since":null,"idle":null,"ts":"2026-01-01T00:00:00.000Z"}'),
        ('{"type":"whois","name":"a","kind":"registered","online":false,"status":"offline","message":"",'
        '"since":1700000000,"idle":null,"ts":"2026-01-01T00:00:00.000Z"}'),
        '{"type":"private","sender":"a","recipient":"b","text":"x","outgoing":1,"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"message","sender":"a","text":"x","history":"yes","ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"history_start","count":true,"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"history_start","count":2.5,"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"left","name":"a","reason":null,"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"welcome","name":"a","users":[1,2],"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"welcome","name":"a","users":"ab","ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"error","code":"wrong_password","text":5,"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"entered","name":null,"ts":"2026-01-01T00:00:00.000Z"}',
    ],
)
def test_decode_json_refuses_fields_of_the_wrong_type(line: str) -> None:
    # decode_json's result is rendered with render_text by the client; a value that is not
    # the event's declared type (str, tuple of str) must be refused, not passed on.
    with pytest.raises(ProtocolError):
        decode_json(line)


@pytest.mark.parametrize(
    "line",
    [
        # Times fromisoformat accepts whose UTC date is outside years 1-9999.
        '{"type":"message","sender":"a","text":"b","history":true,"ts":"9999-12-31T23:59:59-23:59"}',
        ('{"type":"whois","name":"a","kind":"registered","online":false,"status":"offline","message":"",'
        '"since":"0001-01-01T00:00:00+23:59","idle":null,"ts":"2026-01-01T00:00:00.000Z"}'),
    ],
)
def test_a_decoded_event_with_an_extreme_time_can_still_be_shown(line: str) -> None:
    # decode_json either refuses the record or returns an event render_text can show.
    try:
        event, _ = decode_json(line)
    except ProtocolError:
        return
    assert isinstance(render_text(event), str)


def test_decode_json_deeply_nested_garbage_is_a_protocol_error() -> None:
    # A line from a misbehaving server must not crash the client with RecursionError.
    with pytest.raises(ProtocolError):
        decode_json("[" * 4096)


@given(server_events(), st.floats(0, 4_102_444_800, allow_nan=False))
def test_rendered_bytes_never_contain_cr_or_nul(event: object, ts: float) -> None:
    text = encode_text(event)  # type: ignore[arg-type]
    assert b"\r" not in text and b"\x00" not in text
    if isinstance(event, Welcome):
        lines = 2
    elif isinstance(event, WhoList):
        lines = 1 + len(event.users)
    elif isinstance(event, Notice):
        lines = 1 + event.text.count("\n")  # /help text has several lines
    elif isinstance(event, GroupList):
        lines = 1 + max(1, len(event.groups))  # "none yet" when empty
    elif isinstance(event, MemberList):
        lines = 1 + len(event.members) + bool(event.pending)
    else:
        lines = 1
    assert text.count(b"\n") == lines
    assert text.endswith(b"\n")
    data = encode_json(event, ts)  # type: ignore[arg-type]
    assert b"\r" not in data and b"\x00" not in data


@given(st.text(max_size=40))
def test_json_escapes_every_control_character(text: str) -> None:
    data = encode_json(Message("bob", text), 0)
    assert data.count(b"\n") == 1 and b"\r" not in data and b"\x00" not in data and b"\x1b" not in data
    assert decode_json(data.decode()[:-1])[0] == Message("bob", text)


def test_a_rename_missed_while_away_is_for_json_clients_only() -> None:
    from pollchat.protocol.codec import JSON, TEXT, encode_for_mode

    missed = Renamed("bob", "robert", history=True, at=1_700_000_000.0)
    assert encode_for_mode(TEXT, missed, 0.0) == b""  # the seed-004 login flow stays as it was
    assert encode_for_mode(TEXT, Renamed("bob", "robert"), 0.0) == b"bob is now known as robert\n"
    assert json.loads(encode_for_mode(JSON, missed, 0.0)) == {
        "type": "renamed", "old": "bob", "new": "robert", "history": True, "ts": "2023-11-14T22:13:20.000Z",
    }
    assert decode_json(encode_for_mode(JSON, missed, 0.0).decode()) == (missed, 1_700_000_000.0)


def test_every_placeholder_of_every_code_has_a_strategy() -> None:
    """The property tests fill each code's placeholders from ``_DETAIL_VALUES``: a new
    placeholder without a strategy fails them only when hypothesis happens to draw it."""
    from tests.strategies import _DETAIL_VALUES, placeholders

    for code in (*ErrorCode, *NoticeCode):
        assert placeholders(code.value) <= set(_DETAIL_VALUES), code
