"""The cluster's Lua scripts: presence, seats and node liveness, each atomic in Redis.

Redis runs a script alone (no other command interleaves), so each of these is one
indivisible decision, whichever node sends it: two nodes taking the last seat at once
get one ``ok`` and one ``full``. The keys (all under ``pollchat:``):

* ``online`` (hash): account name key -> ``SID<TAB>KIND<TAB>ID<TAB>NAME``, every
  session online anywhere (``SID`` is ``NAME#INSTANCE/CONNECTION``, so it names its
  node; ``ID`` is the account's id, 0 while a registration is being created);
* ``registered`` (string): how many registered-account seats are taken;
* ``nodes`` (sorted set): node instance -> its expiry, in Redis's clock (``TIME``);
* ``node:INSTANCE`` (set): the name keys that node holds;
* ``bus`` (stream): the bus (:mod:`pollchat.server.cluster.records`): what is for
  everyone, and who joined and left;
* ``inbox:INSTANCE`` (stream): a node's delivery stream: events for a few of its
  sessions (private messages, mentions, group lines) and requests to end one, so a
  node reads only its own;
* ``reaper`` (string): the sequence of the heartbeat script's own bus entries.

The seat rule is the seed's budget (:mod:`pollchat.core.seats`) across the cluster:
registered accounts share ``max_users - preconfigured`` seats; a preconfigured account
has its own seat, so it is refused only when it is online already.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PREFIX = "pollchat:"
ONLINE = PREFIX + "online"
REGISTERED = PREFIX + "registered"
NODES = PREFIX + "nodes"
NODE = PREFIX + "node:"
BUS = PREFIX + "bus"
INBOX = PREFIX + "inbox:"
REAPER = PREFIX + "reaper"


@dataclass(frozen=True)
class Script:
    """A Lua script, sent with ``EVALSHA`` (``EVAL`` once after a ``NOSCRIPT``)."""

    name: str
    source: str

    @property
    def sha(self) -> str:
        """Its SHA-1, as Redis names a loaded script."""
        return hashlib.sha1(self.source.encode()).hexdigest()


TAKE_SEAT = Script(
    "take_seat",
    """
-- KEYS: online, registered, nodes, node:INSTANCE
-- ARGV: name key, kind, value (SID TAB KIND TAB ID TAB NAME), registered seats, instance
if not redis.call('ZSCORE', KEYS[3], ARGV[5]) then return 'gone' end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'online' end
if ARGV[2] == 'registered' then
  local taken = tonumber(redis.call('GET', KEYS[2]) or '0')
  if taken >= tonumber(ARGV[4]) then return 'full' end
  redis.call('INCR', KEYS[2])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[1])
return 'ok'
""",
)
"""Take a seat: ``ok``; ``online`` (the account is online on some node: the seed's
``Password already used``); ``full`` (its kind's seats are taken); ``gone`` (this node
is not a live member: reaped, it must sync first)."""

RELEASE_SEAT = Script(
    "release_seat",
    """
-- KEYS: online, registered, node:INSTANCE
-- ARGV: name key, SID
local held = redis.call('HGET', KEYS[1], ARGV[1])
if not held or string.sub(held, 1, #ARGV[2] + 1) ~= ARGV[2] .. '\\t' then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
if string.match(held, '^[^\\t]*\\t([^\\t]*)') == 'registered' then redis.call('DECR', KEYS[2]) end
return 1
""",
)
"""Release a seat if ``SID`` still holds it (1), else nothing (0: it was reaped, or
the account is held by a newer session)."""

HEARTBEAT = Script(
    "heartbeat",
    """
-- KEYS: online, registered, nodes, bus, reaper
-- ARGV: instance, expiry (s), bus length, node-set key prefix, inbox key prefix
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local present = redis.call('ZSCORE', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. now)
for _, origin in ipairs(dead) do
  local set = ARGV[4] .. origin
  local records = {}
  for _, key in ipairs(redis.call('SMEMBERS', set)) do
    local held = redis.call('HGET', KEYS[1], key)
    if held and string.sub(held, 1, #origin + 1) == origin .. '/' then
      redis.call('HDEL', KEYS[1], key)
      local sid, kind, name = string.match(held, '^([^\\t]*)\\t([^\\t]*)\\t[^\\t]*\\t(.*)$')
      if kind == 'registered' then redis.call('DECR', KEYS[2]) end
      records[#records + 1] = {'reaped', sid, name}
    end
  end
  records[#records + 1] = {'gone', origin}
  redis.call('DEL', set)
  redis.call('DEL', ARGV[5] .. origin)
  redis.call('ZREM', KEYS[3], origin)
  local seq = redis.call('INCR', KEYS[5])
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'o', '@reaper', 's', seq, 'd', cjson.encode(records))
end
if present then return 1 end
return 0
""",
)
"""Renew this node's expiry (Redis's clock, so nodes' clocks need not agree) and reap
every node whose expiry passed: its sessions leave ``online`` (seats freed) and one
bus entry tells everyone (``reaped`` records, then ``gone``); its delivery stream is
deleted. The script is atomic,
so a dead node is reaped by exactly one heartbeat. Returns 1, or 0 if this node was
not a member (reaped while it was frozen: it must sync and announce its users again)."""

SYNC = Script(
    "sync",
    """
-- KEYS: online, registered, nodes, node:INSTANCE, bus, inbox:INSTANCE
-- ARGV: instance, expiry (s), registered seats, then (name key, kind, value) per local session
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
local conflicts = {}
local mine = {}
for i = 4, #ARGV, 3 do mine[ARGV[i]] = true end
-- seats this node held for sessions that ended while it could not say so: freed
for _, key in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if not mine[key] then
    local held = redis.call('HGET', KEYS[1], key)
    if held and string.sub(held, 1, #ARGV[1] + 1) == ARGV[1] .. '/' then
      redis.call('HDEL', KEYS[1], key)
      if string.match(held, '^[^\\t]*\\t([^\\t]*)') == 'registered' then redis.call('DECR', KEYS[2]) end
    end
    redis.call('SREM', KEYS[4], key)
  end
end
for i = 4, #ARGV, 3 do
  local key, kind, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local held = redis.call('HGET', KEYS[1], key)
  local sid = string.match(value, '^([^\\t]*)')
  -- held by this very session (its id may have been filled in since): nothing to do
  if not held or string.sub(held, 1, #sid + 1) ~= sid .. '\\t' then
    local ok = not held
    if ok and kind == 'registered' then
      if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[3]) then
        ok = false
      else
        redis.call('INCR', KEYS[2])
      end
    end
    if ok then
      redis.call('HSET', KEYS[1], key, value)
      redis.call('SADD', KEYS[4], key)
    else
      conflicts[#conflicts + 1] = key
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
was reaped), free the seats it held for sessions that ended while it was cut off, and
answer ``[last bus id, online hash as a flat list, conflicts]``:
``conflicts`` are this node's name keys the engine gives to another session or has no
seat for, and ``inbox id`` the last entry of this node's delivery stream. The engine's
view wins: the node ends those sessions."""
