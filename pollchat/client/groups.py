"""Group conversations in the TUI client (seed 001's groups): pure updates of a :class:`ChatState`.

:meth:`ChatState.apply <pollchat.client.state.ChatState.apply>` hands three kinds of
events to :func:`apply`:

* ``group`` changes (:class:`~pollchat.protocol.events.GroupEvent`): a line in the
  group's conversation (created when the user creates, joins or is let into a group;
  renamed with the group; marked *gone* when the user leaves, is removed or the group is
  deleted, so its lines stay readable but nothing typed there is sent);
* ``/groups`` answers (:class:`~pollchat.protocol.events.GroupList`): the user's groups
  become conversations and the ones no longer listed are marked gone;
* server ``mention`` events: counted, notified and alerted here (see
  :attr:`ChatState.server_mentions <pollchat.client.state.ChatState.server_mentions>`).

Nothing here does I/O; :mod:`pollchat.client.app` decides what to send.
"""

from __future__ import annotations

from typing import Protocol

from pollchat import texts
from pollchat.client.model import (
    Alert,
    Conversation,
    EntryKind,
    NoticeKind,
    Notification,
    clean,
    group_key,
)
from pollchat.protocol.events import GroupEntry, GroupEvent, GroupList, Mention
from pollchat.protocol.names import name_key
from pollchat.protocol.render import render_text
from pollchat.texts import GroupChange

class ChatState(Protocol):
    """What this module needs of :class:`pollchat.client.state.ChatState` (which calls
    :func:`apply`): declared here so that this module does not import that one."""

    conversations: dict[str, Conversation]
    notifications: list[Notification]
    open_key: str
    pinned: list[str]
    server_mentions: bool
    group_directory: tuple[GroupEntry, ...] | None

    @property
    def main(self) -> Conversation: ...

    def is_me(self, name: str) -> bool: ...

    def add_line(self, key: str, text: str, ts: float, kind: EntryKind = EntryKind.SYSTEM) -> None: ...

    def group_conversation(self, name: str) -> Conversation: ...

    def rekey(self, old_key: str, new_key: str) -> None: ...

    def mark_mention(self, key: str, sender: str, text: str) -> bool: ...


_GONE = {
    GroupChange.DELETED: texts.CLIENT_TUI_GROUP_DELETED,
    GroupChange.DISBANDED: texts.CLIENT_TUI_GROUP_DELETED,
}
"""Changes that end the group for everyone, and what the conversation then says."""
_GONE_IF_ME = {
    GroupChange.LEFT: texts.CLIENT_TUI_GROUP_LEFT,
    GroupChange.KICKED: texts.CLIENT_TUI_GROUP_REMOVED,
    GroupChange.BANNED: texts.CLIENT_TUI_GROUP_REMOVED,
}
"""Changes that end the user's membership when they name the user."""
MENTION_SAME_SECONDS = 5.0
"""A mention event within this many seconds of a mention notification with the same
sender, place and text is that notification (already counted), not a new one."""


def apply(chat: ChatState, event: GroupEvent | GroupList | Mention, ts: float, now: float) -> Alert:
    """Apply a group change, a ``/groups`` answer or a mention to ``chat``.

    Args:
        chat: the state to update.
        event: the event.
        ts: its server time, seconds since the epoch.
        now: the client's time, seconds since the epoch (notification expiry).

    Returns:
        :attr:`Alert.MENTION` for a live mention in a conversation that is not open,
        else :attr:`Alert.NONE`.
    """
    if isinstance(event, GroupList):
        _reconcile(chat, event)
        return Alert.NONE
    if isinstance(event, Mention):
        return _mention(chat, event, ts)
    _change(chat, event, ts, now)
    return Alert.NONE


def group_detail(conv: Conversation) -> str:
    """What a group conversation's title says after its name: why it is gone, its
    topic, its member count, or just "group"."""
    if conv.gone:
        return conv.gone
    if conv.topic:
        return conv.topic
    if conv.members is not None:
        if conv.members == 1:
            return texts.CLIENT_TUI_GROUP_MEMBER
        return texts.CLIENT_TUI_GROUP_MEMBERS.format(count=conv.members)
    return texts.CLIENT_TUI_GROUP_DETAIL


def _change(chat: ChatState, event: GroupEvent, ts: float, now: float) -> None:
    change = event.change
    me = bool(event.name) and chat.is_me(event.name)
    line = render_text(event)
    # Inside the group's own conversation the "[#group] " prefix says nothing.
    inside = line.removeprefix(texts.GROUP_PREFIX.format(group=event.group))
    conv = chat.conversations.get(group_key(event.group))
    if change in (GroupChange.CREATED, GroupChange.ACCEPTED) or (change is GroupChange.JOINED and me):
        conv = chat.group_conversation(event.group)
        conv.gone = ""
        conv.role = "owner" if change is GroupChange.CREATED else conv.role or "member"
        if change is GroupChange.CREATED:
            conv.members = 1
    if conv is None:  # about a group the user is not in (a request answered, an admin's act)
        chat.add_line(chat.open_key, line, ts)
        return
    if change is GroupChange.RENAMED:
        conv = _rename(chat, conv, event.text)
    elif change in _GONE or (me and change in _GONE_IF_ME):
        conv.gone = _GONE.get(change) or _GONE_IF_ME[change]
        conv.role = ""
    elif change in (GroupChange.TOPIC, GroupChange.TOPIC_IS):
        conv.topic = event.text
    elif change in (GroupChange.NO_TOPIC, GroupChange.TOPIC_CLEARED):
        conv.topic = ""
    elif change is GroupChange.OWNER and me:
        conv.role = "owner"
    if conv.members is not None and not me:
        if change is GroupChange.JOINED:
            conv.members += 1
        elif change in (GroupChange.LEFT, GroupChange.KICKED):
            conv.members = max(0, conv.members - 1)
    chat.add_line(conv.key, inside, ts)
    if change is GroupChange.REQUEST:  # the owner has to answer: say so in the top bar
        chat.notifications.append(Notification(NoticeKind.SERVER, event.name, conv.key, clean(line), now))


def _rename(chat: ChatState, conv: Conversation, new_name: str) -> Conversation:
    """Move group conversation ``conv`` to ``new_name``: its key, pin, typing
    indicators and notifications follow. A stale conversation already holding the new
    name (a deleted group's) is merged into it."""
    old_key, new_key = conv.key, group_key(new_name)
    if new_key != old_key:
        stale = chat.conversations.pop(new_key, None)
        if stale is not None:
            conv.entries = sorted(stale.entries + conv.entries, key=lambda entry: entry.ts)
        del chat.conversations[old_key]
        conv.key = new_key
        chat.conversations[new_key] = conv
        if chat.open_key == old_key:
            chat.open_key = new_key
        chat.rekey(old_key, new_key)
    old_label = conv.label
    conv.name = new_name
    chat.pinned = [conv.label if name_key(name) == name_key(old_label) else name for name in chat.pinned]
    return conv


def _reconcile(chat: ChatState, event: GroupList) -> None:
    # Only an issue-4 server answers /groups, and such a server sends mention events.
    chat.server_mentions = True
    chat.group_directory = tuple(event.groups)
    mine = set()
    for entry in event.groups:
        conv = chat.conversations.get(group_key(entry.name))
        if entry.role in ("owner", "member"):
            conv = chat.group_conversation(entry.name)
            conv.gone = ""
            mine.add(conv.key)
        if conv is not None:
            conv.role, conv.members, conv.topic = entry.role, entry.members, entry.topic
    for conv in chat.conversations.values():
        if conv.group and conv.key not in mine and not conv.gone:
            conv.gone = texts.CLIENT_TUI_GROUP_NOT_MEMBER


def _mention(chat: ChatState, event: Mention, ts: float) -> Alert:
    chat.server_mentions = True
    conv = chat.group_conversation(event.group) if event.group else chat.main
    chat.mark_mention(conv.key, event.sender, event.text)  # highlighted even if the local rules missed it
    text, who = clean(event.text), name_key(event.sender)
    counted = any(
        n.kind is NoticeKind.MENTION and n.where == conv.key and n.text == text and name_key(n.who) == who
        and abs(n.ts - ts) <= MENTION_SAME_SECONDS
        for n in chat.notifications
    )  # the line itself was matched locally before the first mention event arrived
    if counted or conv.key == chat.open_key or chat.is_me(event.sender):
        return Alert.NONE
    conv.mentions += 1
    conv.activity = True
    chat.notifications.append(Notification(NoticeKind.MENTION, event.sender, conv.key, text, ts))
    return Alert.MENTION
