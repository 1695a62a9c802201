"""The cluster's Lua scripts: presence, seats and node liveness, each atomic in Redis.

Redis runs a script alone (no other command interleaves), so each of these is one
indivisible decision, whichever node sends it: two nodes taking the last seat at once
get one ``ok`` and one ``full``. The keys (all under ``pollchat:``):

* ``online`` (hash): session id -> ``SID<TAB>KIND<TAB>ID<TAB>NAME<TAB>KEY``, every
  session online anywhere (``SID`` is ``NAME#INSTANCE/CONNECTION``, so it names its
  node; ``ID`` is the account's id, 0 while a registration is being created; ``KEY``
  the account's name key);
* ``sessions`` (hash): account name key -> how many sessions it has online anywhere
  (``--sessions-per-account``: its devices; the first takes the seat);
* ``registered`` (string): how many registered-account seats are taken;
* ``nodes`` (sorted set): node instance -> its expiry, in Redis's clock (``TIME``);
* ``node:INSTANCE`` (set): the session ids that node holds;
* ``bus`` (stream): the bus (:mod:`pollchat.server.cluster.records`): what is for
  everyone, and who joined and left;
* ``inbox:INSTANCE`` (stream): a node's delivery stream: events for a few of its
  sessions (private messages, mentions, group lines) and requests to end one, so a
  node reads only its own;
* ``reaper`` (string): the sequence of the heartbeat script's own bus entries;
* ``beats`` (hash): node instance -> the time of its last heartbeat (or sync), in
  Redis's clock: a reaped node's users were last seen then;
* ``format`` (string): the bus format (:data:`BUS_FORMAT`) of the nodes using these
  keys, set by the first node (:data:`CLAIM_FORMAT`).

The seat rule is the seed's budget (:mod:`pollchat.core.seats`) across the cluster:
registered accounts share ``max_users - preconfigured`` seats; a preconfigured account
has its own seat, so it is refused only when it is online already.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PREFIX = "pollchat:"
ONLINE = PREFIX + "sessions-online"
SESSIONS = PREFIX + "sessions"
REGISTERED = PREFIX + "registered"
NODES = PREFIX + "nodes"
NODE = PREFIX + "node:"
BUS = PREFIX + "bus"
INBOX = PREFIX + "inbox:"
REAPER = PREFIX + "reaper"
BEATS = PREFIX + "beats"
FORMAT = PREFIX + "format"

BUS_FORMAT = "2"
"""The version of everything nodes share in Redis: these keys and scripts and the bus's
records (:mod:`pollchat.server.cluster.records`). Change it whenever a change to them
would confuse a node of the previous version: nodes of two formats refuse to share a
cluster (:data:`CLAIM_FORMAT`). Format 1 was the first cluster release, which wrote no
``format`` key."""


@dataclass(frozen=True)
class Script:
    """A Lua script, sent with ``EVALSHA`` (``EVAL`` once after a ``NOSCRIPT``)."""

    name: str
    source: str

    @property
    def sha(self) -> str:
        """Its SHA-1, as Redis names a loaded script."""
        return hashlib.sha1(self.source.encode()).hexdigest()


CLAIM_FORMAT = Script(
    "claim_format",
    """
-- KEYS: format, nodes
-- ARGV: this node's format, its instance ('' before it has joined)
local have = redis.call('GET', KEYS[1])
if have == ARGV[1] then return {'ok', have} end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')) do
  if node ~= ARGV[2] then return {'other', have or '1'} end
end
redis.call('SET', KEYS[1], ARGV[1])
return {'ok', ARGV[1]}
""",
)
"""Check this node's bus format against the cluster's: ``["ok", format]`` when they are
the same, or when no other node is alive (its expiry not passed), in which case this
node's format becomes the cluster's (every node was stopped for an upgrade); else
``["other", format]``, the live nodes' format (``"1"`` when they wrote no key: the
first cluster release). Nodes of two formats never share a cluster: rolling upgrades
are not supported."""

TAKE_SEAT = Script(
    "take_seat",
    """
-- KEYS: online, registered, nodes, node:INSTANCE, sessions
-- ARGV: name key, kind, value (SID TAB KIND TAB ID TAB NAME TAB KEY), registered seats, instance,
--       sessions per account, SID
if not redis.call('ZSCORE', KEYS[3], ARGV[5]) then return 'gone' end
local count = tonumber(redis.call('HGET', KEYS[5], ARGV[1]) or '0')
if count >= tonumber(ARGV[6]) then
  if tonumber(ARGV[6]) == 1 then return 'online' end
  return 'many'
end
if count == 0 and ARGV[2] == 'registered' then
  local taken = tonumber(redis.call('GET', KEYS[2]) or '0')
  if taken >= tonumber(ARGV[4]) then return 'full' end
  redis.call('INCR', KEYS[2])
end
redis.call('HINCRBY', KEYS[5], ARGV[1], 1)
redis.call('HSET', KEYS[1], ARGV[7], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[7])
if count == 0 then return 'ok' end
return 'more'
""",
)
"""Take a seat: ``ok`` (the account's first session anywhere); ``more`` (another
session of an account online already, within ``--sessions-per-account``: no seat
taken); ``online`` (the account is online on some node and one session is the limit:
the seed's ``Password already used``); ``many`` (its sessions anywhere reach the
limit above 1); ``full`` (its kind's seats are taken); ``gone`` (this node is not a
live member: reaped, it must sync first)."""

_FREE_SESSION = """
local function free_session(sid, held)
  redis.call('HDEL', KEYS[1], sid)
  local kind, name, key = string.match(held, '^[^\t]*\t([^\t]*)\t[^\t]*\t([^\t]*)\t(.*)$')
  local left = redis.call('HINCRBY', KEYS[SESSIONS_KEY], key, -1)
  if left <= 0 then
    redis.call('HDEL', KEYS[SESSIONS_KEY], key)
    if kind == 'registered' then redis.call('DECR', KEYS[2]) end
  end
  return name, left <= 0
end
"""
"""Lua: end one session of ``online`` (its value ``held``): its account's count goes
down, and with its last session its registered seat is freed. Returns the name and
whether that was its last session. ``KEYS[1]`` is ``online``, ``KEYS[2]``
``registered``; ``SESSIONS_KEY`` is replaced by the index of ``sessions``."""

RELEASE_SEAT = Script(
    "release_seat",
    _FREE_SESSION.replace("SESSIONS_KEY", "4") + """
-- KEYS: online, registered, node:INSTANCE, sessions
-- ARGV: name key, SID
local held = redis.call('HGET', KEYS[1], ARGV[2])
if not held then return 0 end
redis.call('SREM', KEYS[3], ARGV[2])
local _, last = free_session(ARGV[2], held)
if last then return 2 end
return 1
""",
)
"""Release session ``SID``'s place if the engine still has it: 2 if that was its
account's last session anywhere (the left notice is due), 1 if another stays online;
else nothing (0: it was reaped, or never taken)."""

HEARTBEAT = Script(
    "heartbeat",
    _FREE_SESSION.replace("SESSIONS_KEY", "6") + """
-- KEYS: online, registered, nodes, bus, reaper, sessions, beats
-- ARGV: instance, expiry (s), bus length, node-set key prefix, inbox key prefix
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local present = redis.call('ZSCORE', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[7], ARGV[1], tostring(now))
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. now)
for _, origin in ipairs(dead) do
  local set = ARGV[4] .. origin
  local beat = tonumber(redis.call('HGET', KEYS[7], origin) or '0')
  local records = {}
  for _, sid in ipairs(redis.call('SMEMBERS', set)) do
    local held = redis.call('HGET', KEYS[1], sid)
    if held then
      local name, last = free_session(sid, held)
      local stays = 1
      if last then stays = 0 end
      records[#records + 1] = {'reaped', sid, name, stays, tostring(beat), ARGV[1]}
    end
  end
  records[#records + 1] = {'gone', origin}
  redis.call('DEL', set)
  redis.call('DEL', ARGV[5] .. origin)
  redis.call('ZREM', KEYS[3], origin)
  redis.call('HDEL', KEYS[7], origin)
  local seq = redis.call('INCR', KEYS[5])
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'o', '@reaper', 's', seq, 'd', cjson.encode(records))
end
if present then return 1 end
return 0
""",
)
"""Renew this node's expiry (Redis's clock, so nodes' clocks need not agree), note
its heartbeat's time in ``beats``, and reap every node whose expiry passed: its
sessions leave ``online`` (seats freed with an account's last session) and one bus
entry tells everyone (``reaped`` records: ``["reaped", sid, name, stays, last_beat,
reaper]``, ``stays`` 1 when the account stays online on another session, ``last_beat``
the dead node's last heartbeat as decimal text (``"0"``: unknown), ``reaper`` this
node's instance, which records the users' last seen; then ``gone``); its delivery
stream is deleted. The script is atomic,
so a dead node is reaped by exactly one heartbeat. Returns 1, or 0 if this node was
not a member (reaped while it was frozen: it must sync and announce its users again)."""

SYNC = Script(
    "sync",
    _FREE_SESSION.replace("SESSIONS_KEY", "7") + """
-- KEYS: online, registered, nodes, node:INSTANCE, bus, inbox:INSTANCE, sessions, beats
-- ARGV: instance, expiry (s), registered seats, sessions per account, then (name key, kind, value, SID)
--       per local session
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[8], ARGV[1], tostring(now))
local conflicts = {}
local mine = {}
for i = 5, #ARGV, 4 do mine[ARGV[i + 3]] = true end
-- places this node held for sessions that ended while it could not say so: freed
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if not mine[sid] then
    local held = redis.call('HGET', KEYS[1], sid)
    if held then free_session(sid, held) end
    redis.call('SREM', KEYS[4], sid)
  end
end
for i = 5, #ARGV, 4 do
  local key, kind, value, sid = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  -- held by this very session (its id may have been filled in since): nothing to do
  if not redis.call('HGET', KEYS[1], sid) then
    local count = tonumber(redis.call('HGET', KEYS[7], key) or '0')
    local ok = count < tonumber(ARGV[4])
    if ok and count == 0 and kind == 'registered' then
      if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[3]) then
        ok = false
      else
        redis.call('INCR', KEYS[2])
      end
    end
    if ok then
      redis.call('HINCRBY', KEYS[7], key, 1)
      redis.call('HSET', KEYS[1], sid, value)
      redis.call('SADD', KEYS[4], sid)
    else
      conflicts[#conflicts + 1] = sid
    end
  end
end
local last = redis.call('XREVRANGE', KEYS[5], '+', '-', 'COUNT', 1)
local last_id = '0-0'
if #last > 0 then last_id = last[1][1] end
local inbox = redis.call('XREVRANGE', KEYS[6], '+', '-', 'COUNT', 1)
local inbox_id = '0-0'
if #inbox > 0 then inbox_id = inbox[1][1] end
return {last_id, redis.call('HGETALL', KEYS[1]), conflicts, inbox_id}
""",
)
"""Join (or rejoin) the cluster: register this node, put back the sessions it holds
that the engine does not know (after a restart that lost its data, or after this node
was reaped), free the places it held for sessions that ended while it was cut off, and
answer ``[last bus id, online hash as a flat list, conflicts, inbox id]``:
``conflicts`` are this node's session ids the engine has no room for (the account
is online elsewhere up to ``--sessions-per-account``, or no seat is left), and
``inbox id`` the last entry of this node's delivery stream. The engine's view wins:
the node ends those sessions."""
