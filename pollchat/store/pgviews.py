"""The PostgreSQL store the chat runs on: reads from memory, writes behind, never a wait.

:class:`PgViewStore` implements :class:`pollchat.store.ports.Store` (the synchronous
interface the core calls) over PostgreSQL without ever waiting for the server on the
event loop:

* **Start-up** (before the loop runs, so it may block): :func:`open_pg_views` connects
  with the blocking engine (:class:`~pollchat.store.postgres.PostgresDatabase`), checks
  or creates the schema, and every call until :meth:`PgViewStore.attach` goes to that
  engine (the accounts file's rows, the groups, the history's counts).
* **Attached** (:meth:`PgViewStore.attach`, once the loop exists): the views are loaded
  -- accounts (id, name, key, skeleton, hash, kind, created, last seen), account and
  address bans, live groups with their members, requests and bans (and live names, so a
  taken one is a :class:`~pollchat.errors.StoreConflict` at once), pending group changes,
  the history tails a replay or ``/history`` can
  ask for (:data:`TAIL` per kind and conversation) and the unread private messages of
  each account -- the blocking connection is closed, and a
  :class:`~pollchat.store.pgdriver.PgDriver` takes over. Every read is answered from
  the views at once; every write updates them at once and becomes one transaction
  queued, in order, to the driver (**write-behind**). Ids are taken here from blocks
  reserved from the tables' sequences (:data:`ID_BLOCKS`), so several nodes on one
  database never take one id. The database's unique indexes stay the last word: a
  write it refuses is logged as an error and the view corrected (a refused
  registration removes the account again; its client is told the name is taken).
* **Several nodes** (a cluster, docs/scaling.md): with :attr:`PgViewStore.changes` set,
  every view write is also a record for the other nodes, which apply it to their
  views without writing (:meth:`PgViewStore.apply_remote`); a login the view misses
  asks the database (:meth:`PgViewStore.fetch_account`), and lost records are made up
  for by reading the views again (:meth:`PgViewStore.reload_views`).

Acknowledged means committed: every write has a commit sequence number
(:attr:`PgViewStore.issued` after it; :attr:`PgViewStore.done` says how far the server
has committed, :meth:`PgViewStore.failed_between` which were refused). The server holds
the output of a connection whose request issued a write until it is committed
(:mod:`pollchat.server.barrier`).

Faults: while the driver is disconnected :attr:`PgViewStore.available` is false
(logins and registrations are refused with one line), message batches are refused with
:class:`~pollchat.errors.StoreError` (the history keeps them in memory and retries, as on
a full disk), and the other writes wait in the driver's bounded queue. The statements
sent are idempotent (explicit ids, ``ON CONFLICT DO NOTHING``, upserts), so a
transaction resent after a lost connection cannot apply twice.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import logging
import math
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

from pollchat.core.accounts import Account
from pollchat.core.groups import Group, Member, PendingChange, Visibility
from pollchat.core.history import Conversation, HistoryRecord, RecordKind
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreConflict, StoreError
from pollchat.texts import ErrorCode
from pollchat.protocol.names import name_key, skeleton
from pollchat.store.accounts import _now_iso, _registered
from pollchat.store.groups import MAX_PENDING_CHANGES
from pollchat.store.messages import _check_count, _check_limits, _record, between_clause, message_rows
from pollchat.store.pgdriver import MAX_QUEUED, PgDriver, Rows, Scheduler, Watcher
from pollchat.store.ports import HistoryAnswer
from pollchat.store.postgres import PostgresDatabase, _messages_before_sql, _search_sql, open_postgres
from pollchat.store.urls import redact

log = logging.getLogger("pollchat.store")

TAIL = 500
"""Messages kept in memory per kind and conversation: the main chat's, each account's
private ones, each group's. ``/history`` asks for at most 500
(:data:`pollchat.server.commands.MAX_HISTORY`), the login replay for fewer."""

_COLUMNS = "id, ts, kind, sender_id, sender, recipient_id, recipient, text, group_id"
_MAIN = "recipient_id IS NULL AND group_id IS NULL"
_PUBLIC_KINDS = (RecordKind.CHAT, RecordKind.ACTION)
_IDENTITY_TABLES = ("account", "message", "chat_group", "pending_change")
_PLACEHOLDER = re.compile(r"%s")
_ASYNC_ONLY = (
    "the PostgreSQL store does not wait for {} on the event loop: it is read asynchronously"
    " (pollchat.store.ports.AsyncHistoryReads)"
)
_ROWS_PER_INSERT = 500
"""Messages per ``INSERT`` statement (nine parameters each; PostgreSQL takes 65,535)."""


@functools.lru_cache(maxsize=64)
def _insert_messages(count: int) -> str:
    """The ``INSERT`` of ``count`` messages with their ids, ``$n`` placeholders already
    (``ON CONFLICT DO NOTHING``: sent again after a lost connection, it adds nothing)."""
    values = ", ".join(
        "(" + ", ".join(f"${row * 9 + column}" for column in range(1, 10)) + ")" for row in range(count)
    )
    return (
        "INSERT INTO message (id, ts, kind, sender_id, sender, recipient_id, recipient, text, group_id)"
        f" VALUES {values} ON CONFLICT (id) DO NOTHING"
    )


ID_BLOCKS = {"account": 256, "chat_group": 64, "message": 10_000, "pending_change": 256}
"""Ids a node reserves at a time per table from the table's sequence (one ``nextval``
query over ``generate_series``), asked again when half are used: several nodes on one
database never take one id, and a node's writes never wait for one. Half a block must
outlast one database round trip of the busiest burst: the message block covers 5,000
lines between a refill's question and its answer (a round trip is milliseconds).
Unused ids of a block are skipped after a restart (ids are unique and grow per node,
not gapless)."""


def _reserve(table: str) -> str:
    return f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s::int)"


_BUS_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (Account, PendingChange, HistoryRecord, AccountKind, RecordKind)
}


def _to_json(value: object) -> object:
    """A shared call's argument as JSON-ready values (dataclasses and enumerations of
    :data:`_BUS_TYPES` by name)."""
    if isinstance(value, HistoryRecord):  # the bulk of the records: positional, measured 2 x cheaper
        return {"@h": [value.ts, value.kind.value, value.sender_id, value.sender, value.text, value.recipient_id,
                       value.recipient, value.id, value.group_id, value.warned]}
    if isinstance(value, enum.Enum):
        return {"@e": type(value).__name__, "v": value.value}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, object] = {"@": type(value).__name__}
        for field in dataclasses.fields(value):
            out[field.name] = _to_json(getattr(value, field.name))
        return out
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot share {type(value).__name__}")


def _from_json(value: object) -> object:
    """The value :func:`_to_json` made ``value`` from (lists stay lists).

    Raises:
        ValueError: a type that is not one of :data:`_BUS_TYPES`."""
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if isinstance(value, dict):
        if "@h" in value:
            ts, kind, sender_id, sender, text, recipient_id, recipient, record_id, group_id, warned = value["@h"]
            return HistoryRecord(ts, RecordKind(kind), sender_id, sender, text, recipient_id, recipient, record_id,
                                 group_id, warned)
        if "@e" in value:
            kind = _BUS_TYPES.get(str(value["@e"]))
            if kind is None or not issubclass(kind, enum.Enum):
                raise ValueError(f"unknown enumeration {value!r}")
            return kind(value["v"])
        cls = _BUS_TYPES.get(str(value.get("@")))
        if cls is None or not dataclasses.is_dataclass(cls):
            raise ValueError(f"unknown type {value.get('@')!r}")
        return cls(**{key: _from_json(item) for key, item in value.items() if key != "@"})
    return value


_NO_DETAIL: Mapping[str, str] = MappingProxyType({})


class Refusal(NamedTuple):
    """What the client whose write the database refused is told (see
    :meth:`PgViewStore.refusal_of`).

    Attributes:
        code: the error line (with ``detail`` filled in).
        detail: the error's fields (``{"group": name}`` for ``GROUP_EXISTS``).
        stays: true when the client stays connected and only the reply to the refused
            request is replaced (a group another node made first); false when a held
            connection is closed after the line (a cluster node admits a registration
            only after its commit, :meth:`CommitBarrier.after_commit
            <pollchat.server.barrier.CommitBarrier.after_commit>`, and answers it there).
    """

    code: ErrorCode
    detail: Mapping[str, str] = _NO_DETAIL
    stays: bool = False


_F = TypeVar("_F", bound=Callable[..., Any])
_SHARED: set[str] = set()


def _shared(unchanged: object = ...) -> Callable[[_F], _F]:
    """Mark a view write as shared: once attached with :attr:`PgViewStore.changes` set
    (a cluster node), each call that returns anything but ``unchanged`` appends the
    record ``["store", name, args, kwargs, draws]`` (``draws``: the ids and times it
    took) for the other nodes' :meth:`PgViewStore.apply_remote`."""

    def decorate(method: _F) -> _F:
        name = method.__name__
        _SHARED.add(name)

        @functools.wraps(method)
        def wrapper(self: PgViewStore, *args: Any, **kwargs: Any) -> Any:
            if self.changes is None or self._db is not None or self._replay is not None:
                return method(self, *args, **kwargs)
            draws: list[Any] = []
            self._draws = draws
            try:
                result = method(self, *args, **kwargs)
            finally:
                self._draws = None
            if result is not unchanged:
                record = ["store", name, _to_json(args), {k: _to_json(v) for k, v in kwargs.items()}, draws]
                self.changes.append(record)
                if self._reloading is not None:
                    self._reloading.append(record)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


@dataclasses.dataclass(slots=True)
class AccountRow:
    """One ``account`` row as the view keeps it."""

    id: int
    key: str
    name: str
    kind: str
    password_hash: str | None
    created_at: str
    last_seen: float | None
    skeleton: str
    lookalike_allowed: bool


def open_pg_views(url: str) -> PgViewStore:
    """Open (and, if empty, initialise) the PostgreSQL database at ``url`` for the chat.

    Blocks (start-up only): it connects with the blocking engine, which serves every
    call until :meth:`PgViewStore.attach`.

    Raises:
        StoreError: psycopg missing, server unreachable, not a pollchat database, or a
            newer schema (one line, no password in it).
    """
    database = open_postgres(url)
    try:
        _sync_sequences(database)
    except StoreError:
        database.close()
        raise
    return PgViewStore(database, url)


def _sync_sequences(database: PostgresDatabase) -> None:
    """Move each identity sequence past the largest id in its table, never back: a
    database written by an older version (which gave ids from memory, explicit ids do
    not advance a sequence) must not hand out one of them again, and a block another
    node reserved beyond the largest id stays reserved."""
    conn = database._conn
    try:
        for table in _IDENTITY_TABLES:
            sequence = conn.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')").fetchone()[0]
            conn.execute(
                f"SELECT setval('{sequence}', top) FROM (SELECT max(id) AS top FROM {table}) AS t"
                f" WHERE top > (SELECT last_value FROM {sequence})"
            )
    except Exception as exc:  # psycopg.Error: not imported here
        raise StoreError(f"cannot prepare {redact(database.url)}: {exc}") from None


class PgViewStore:
    """PostgreSQL for the chat: see the module docstring. Implements
    :class:`pollchat.store.ports.Store`; open it with :func:`open_pg_views`.

    Attributes:
        path: what the server's log names as the database (no password).
        name_collisions: as :attr:`pollchat.store.ports.AccountStore.name_collisions`.
        driver: the non-blocking driver once attached, else ``None``.
    """

    def __init__(self, database: PostgresDatabase, url: str) -> None:
        self._db: PostgresDatabase | None = database
        self.url = url
        self.path = redact(url)
        self.name_collisions = database.name_collisions
        self.driver: PgDriver | None = None
        self._failed: deque[int] = deque(maxlen=1000)
        self._closed = False
        self._sql: dict[str, str] = {}
        self.changes: list[list[Any]] | None = None
        """Set to a list by a cluster node: every view write after attach appends its
        record here (see :func:`_shared`), for the node to publish on its bus."""
        self._draws: list[Any] | None = None  # ids and times a recorded call took
        self._replay: list[Any] | None = None  # those of the remote call being applied
        self._ids: dict[str, deque[int]] = {}
        self._refilling: set[str] = set()
        self._id_waiters: dict[str, list[Callable[[], None]]] = {}  # calls waiting for a refill
        self._failed_codes: dict[int, Refusal] = {}
        self.on_lines_lost: Callable[[str, list[HistoryRecord]], None] | None = None
        """Set by a cluster node: called with the winner's name and the group lines this
        view had taken for its own group of that name when the database gave the name to
        another node's group (they are deleted; their senders are to be told)."""
        self.on_corrected: Callable[[str], None] | None = None
        """Set by a cluster node: called with a store call's name when the database
        refused one of this view's writes and the view was corrected (the node then
        refreshes what caches it, as after another node's call of that name)."""
        self._reloading: list[Sequence[Any]] | None = None  # calls since the reload was asked
        self._fetching: list[list[Sequence[Any]]] = []  # per group lookup under way: calls applied since
        self._reloaded: list[Callable[[], None]] = []
        self._written = 0  # the commit sequence number of the last write queued

    # --- the commit barrier's side ----------------------------------------------------------------

    @property
    def available(self) -> bool:
        """False while the database cannot be reached (attached and the driver disconnected)."""
        return self.driver is None or self.driver.connected

    @property
    def issued(self) -> int:
        """The commit sequence number of the last write issued (0 before attach: those
        writes were committed when they returned). Reads (:meth:`_read`) have numbers
        too but are not counted here: nothing waits for a read but its own answer, so
        the barrier never holds a connection's output for one."""
        return self._written

    @property
    def done(self) -> int:
        """Every write numbered up to this has been committed or refused."""
        return self.driver.done if self.driver is not None else 0

    def failed_between(self, low: int, high: int) -> bool:
        """Whether a write numbered in ``(low, high]`` was refused by the database."""
        return any(low < seq <= high for seq in self._failed)

    def refusal_between(self, low: int, high: int) -> ErrorCode | None:
        """What to tell the client whose write numbered in ``(low, high]`` was refused
        (``NAME_TAKEN``: another node registered the name first), or ``None``."""
        refusal = self.refusal_of(low, high)
        return refusal.code if refusal is not None else None

    def refusal_of(self, low: int, high: int) -> Refusal | None:
        """As :meth:`refusal_between`, with the error's details and whether the
        client stays connected (see :class:`Refusal`)."""
        for seq, refusal in self._failed_codes.items():
            if low < seq <= high:
                return refusal
        return None

    def on_done(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(done)`` each time the database has committed more writes."""
        if self.driver is not None:
            self.driver.on_done.append(callback)

    # --- lifetime ---------------------------------------------------------------------------------

    def attach(self, loop: Watcher, timers: Scheduler, *, max_queued: int | None = None) -> None:
        """Load the views, close the blocking connection and hand the writes to a
        driver on ``loop`` (start-up: may block while it loads and connects).

        Raises:
            StoreError: the database cannot be read or reached (one line).
        """
        assert self._db is not None and self.driver is None
        self._load(self._db)
        self._live: dict[int, Group] = {group.id: group for group in self._db.load_groups()}
        self._group_keys: dict[str, int] = {group.key: group.id for group in self._live.values()}
        self._db.close()
        self._db = None
        self.driver = PgDriver(self.url, loop, timers, max_queued=max_queued or MAX_QUEUED)
        self.driver.start()

    def close(self) -> None:
        """Write what waits (a few seconds at most) and close. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._db is not None:
            self._db.close()
        if self.driver is not None:  # ids come from the sequences: nothing to set back
            self.driver.close()

    def __enter__(self) -> PgViewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load(self, db: PostgresDatabase) -> None:
        conn = db._conn
        self._accounts: dict[int, AccountRow] = {}
        self._registered: dict[str, AccountRow] = {}
        self._preconfigured: dict[str, AccountRow] = {}
        self._shapes: dict[str, dict[int, None]] = {}
        for row in conn.execute(
            "SELECT id, key, name, kind, password_hash, created_at, last_seen, skeleton, lookalike_allowed"
            " FROM account ORDER BY id"
        ):
            account_id, key, name, kind, password_hash, created_at, last_seen, shape, allowed = row
            self._add_account(AccountRow(account_id, key, name, kind, password_hash, created_at, last_seen,
                                         shape or skeleton(name), bool(allowed)))
        self._bans: dict[int, tuple[float | None, str, str]] = {
            r[0]: (r[1], r[2], r[3]) for r in conn.execute('SELECT account_id, until, reason, "by" FROM ban')
        }
        self._address_bans: dict[str, tuple[float | None, str, str]] = {
            r[0]: (r[1], r[2], r[3]) for r in conn.execute('SELECT network, until, reason, "by" FROM address_ban')
        }
        self._changes: dict[int, list[tuple[int, PendingChange]]] = {}
        for row in conn.execute('SELECT id, account_id, change, group_name, name, "by", at FROM pending_change ORDER BY id'):
            self._changes.setdefault(row[1], []).append((row[0], PendingChange(*row[2:])))
        self._public: deque[HistoryRecord] = deque(maxlen=TAIL)
        self._private: dict[int, deque[HistoryRecord]] = {}
        self._groups: dict[int, deque[HistoryRecord]] = {}
        self._unread: dict[int, list[float]] = {}
        kinds = [kind.value for kind in _PUBLIC_KINDS]
        for row in reversed(conn.execute(
            f"SELECT {_COLUMNS} FROM message WHERE {_MAIN} AND kind = ANY(%s) ORDER BY id DESC LIMIT %s", (kinds, TAIL)
        ).fetchall()):
            self._public.append(_record(row))
        for row in conn.execute(
            f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS}, row_number() OVER (PARTITION BY group_id ORDER BY id DESC) AS n"
            " FROM message WHERE group_id IS NOT NULL) AS tail WHERE n <= %s ORDER BY id",
            (TAIL,),
        ):
            self._groups.setdefault(row[8], deque(maxlen=TAIL)).append(_record(row))
        for row in conn.execute(
            f"SELECT {_COLUMNS} FROM ("
            f" SELECT {_COLUMNS}, row_number() OVER (PARTITION BY sender_id ORDER BY id DESC) AS n"
            " FROM message WHERE recipient_id IS NOT NULL"
            ") AS sent WHERE n <= %s"
            f" UNION SELECT {_COLUMNS} FROM ("
            f" SELECT {_COLUMNS}, row_number() OVER (PARTITION BY recipient_id ORDER BY id DESC) AS n"
            " FROM message WHERE recipient_id IS NOT NULL"
            ") AS received WHERE n <= %s ORDER BY 1",
            (TAIL, TAIL),
        ):
            self._remember_private(_record(row))
        for recipient_id, ts in conn.execute(
            "SELECT m.recipient_id, m.ts FROM message m JOIN account a ON a.id = m.recipient_id"
            " WHERE m.recipient_id IS NOT NULL AND m.ts > COALESCE(a.last_seen, '-infinity'::float8) ORDER BY m.id"
        ):
            self._unread.setdefault(recipient_id, []).append(ts)
        self._main_count = int(conn.execute(f"SELECT count(*) FROM message WHERE {_MAIN}").fetchone()[0])
        self._message_count = int(conn.execute("SELECT count(*) FROM message").fetchone()[0])
        self._group_counts: dict[int, int] = dict(
            conn.execute("SELECT group_id, count(*) FROM message WHERE group_id IS NOT NULL GROUP BY group_id").fetchall()
        )
        self._ignores: dict[int, dict[int, float]] = {}  # account id -> {ignored id: since}, oldest first
        for account_id, ignored_id, created in conn.execute(
            "SELECT account_id, ignored_id, created FROM account_ignore ORDER BY created, ignored_id"
        ):
            self._ignores.setdefault(account_id, {})[ignored_id] = float(created)
        self._receipts_off: set[int] = {row[0] for row in conn.execute("SELECT id FROM account WHERE NOT receipts")}
        self._marks: dict[int, dict[int, float]] = {}  # partner id -> {reader id: read until}
        for reader_id, partner_id, until in conn.execute("SELECT reader_id, partner_id, until FROM read_mark"):
            self._marks.setdefault(partner_id, {})[reader_id] = float(until)
        for table in _IDENTITY_TABLES:
            self._ids[table] = deque(row[0] for row in conn.execute(_reserve(table), (ID_BLOCKS[table],)))

    def _take_id(self, table: str) -> int:
        """The next id reserved for ``table`` (applying a remote call: the one it took).

        Raises:
            StoreError: every reserved id is used and the refill has not come back yet
                (a burst beyond :data:`ID_BLOCKS` within one database round trip)."""
        if self._replay is not None:
            return int(self._replay.pop(0))
        pool = self._ids[table]
        if len(pool) <= ID_BLOCKS[table] // 2:
            self._refill(table)
        if not pool:
            raise StoreError(f"no {table} ids reserved yet: the database has not answered")
        value = pool.popleft()
        if self._draws is not None:
            self._draws.append(value)
        return value

    def await_id(self, table: str, then: Callable[[], None]) -> bool:
        """Whether an id for ``table`` is reserved now (a write that takes one will not be
        refused for the lack of it). If not, a refill is asked for and ``then`` is called
        (on the loop) once it is answered, reserved or refused, and ``False`` returned:
        the caller does its write from ``then``. A burst of registrations larger than a
        block within one database round trip waits here instead of failing."""
        if self._replay is not None or self.driver is None or self._ids[table]:
            return True
        self._id_waiters.setdefault(table, []).append(then)
        self._refill(table)
        if table not in self._refilling:  # the refill could not even be sent: do not wait for it
            self._id_waiters.pop(table, None)
            return True
        return False

    def _give_back(self, table: str, value: int) -> None:
        """An id taken for a write that was not queued (a full queue): used next."""
        if self._replay is None:
            self._ids[table].appendleft(value)
            if self._draws:
                self._draws.pop()

    def _refill(self, table: str, wanted: int = 0) -> None:
        """Reserve another block of ids for ``table`` (asynchronously, one at a time)."""
        if table in self._refilling or self.driver is None:
            return
        self._refilling.add(table)

        def reserved(result: Rows | StoreError) -> None:
            self._refilling.discard(table)
            if isinstance(result, StoreError):
                log.warning("reserving %s ids failed: %s", table, result)
            else:
                self._ids[table].extend(row[0] for row in result[0])
            for then in self._id_waiters.pop(table, []):  # each tries again (and may wait again)
                then()

        try:
            self.driver.submit([(self._placeholders(_reserve(table)), (max(ID_BLOCKS[table], wanted),))], reserved)
        except StoreError:
            self._refilling.discard(table)

    def _stamp(self) -> str:
        """Now as the ``created_at`` text (applying a remote call: the time it took)."""
        if self._replay is not None:
            return str(self._replay.pop(0))
        stamp = _now_iso()
        if self._draws is not None:
            self._draws.append(stamp)
        return stamp

    # --- writing ----------------------------------------------------------------------------------

    def _write(
        self,
        statements: Sequence[tuple[str, Sequence[object]]],
        on_done: Callable[[Rows | StoreError], bool | Refusal] | None = None,
        code: ErrorCode | Refusal | None = None,
    ) -> None:
        """Queue ``statements`` as one transaction (``%s`` placeholders); a refusal is
        remembered for :meth:`failed_between` and given to ``on_done``, which may also
        call the result a refusal by returning true (a row that is not the one written)
        or a :class:`Refusal` (what the client is told, decided from the answer);
        ``code`` is what the client the refused write was for is told otherwise
        (:meth:`refusal_between`). Applying another node's call: nothing is written.

        Raises:
            StoreError: the driver's queue is full; nothing was queued.
        """
        if self._replay is not None:  # another node's write: it writes it, this view follows
            return
        assert self.driver is not None
        converted = [(self._placeholders(sql), params) for sql, params in statements]
        seq = 0

        def completed(result: Rows | StoreError) -> None:
            refused = on_done(result) if on_done is not None else False
            if refused or isinstance(result, StoreError):
                self._failed.append(seq)
                if isinstance(refused, Refusal):
                    self._failed_codes[seq] = refused
                elif code is not None:
                    self._failed_codes[seq] = code if isinstance(code, Refusal) else Refusal(code)
                    while len(self._failed_codes) > 1000:
                        del self._failed_codes[next(iter(self._failed_codes))]

        seq = self.driver.submit(converted, completed)
        self._written = seq

    def _placeholders(self, sql: str) -> str:
        """``%s`` to ``$1, $2 ...`` (libpq's own placeholders), cached per statement;
        a statement written with ``$n`` already is left as it is."""
        if "%s" not in sql:
            return sql
        done = self._sql.get(sql)
        if done is None:
            numbers = iter(range(1, 1000))
            done = self._sql[sql] = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
        return done

    # --- accounts ---------------------------------------------------------------------------------

    def _add_account(self, row: AccountRow) -> None:
        self._accounts[row.id] = row
        if row.kind == "registered":
            self._registered[row.key] = row
            self._shapes.setdefault(row.skeleton, {})[row.id] = None
        else:
            self._preconfigured[row.key] = row

    def _drop_account(self, row: AccountRow) -> None:
        self._accounts.pop(row.id, None)
        if row.kind == "registered":
            if self._registered.get(row.key) is row:
                del self._registered[row.key]
            self._shapes.get(row.skeleton, {}).pop(row.id, None)
        elif self._preconfigured.get(row.key) is row:
            del self._preconfigured[row.key]

    def _shape_taken(self, shape: str, but: int = 0) -> bool:
        """Whether a registered account other than ``but`` holds ``shape`` under the
        unique skeleton index (rows allowed as old lookalikes do not count)."""
        return any(
            account_id != but and not self._accounts[account_id].lookalike_allowed
            for account_id in self._shapes.get(shape, ())
        )

    @staticmethod
    def _account(row: AccountRow) -> Account:
        return _registered((row.id, row.name, row.password_hash, row.key))

    def find(self, key: str) -> Account | None:
        if self._db is not None:
            return self._db.find(key)
        row = self._registered.get(key)
        return self._account(row) if row is not None else None

    def find_lookalikes(self, shape: str) -> list[Account]:
        if self._db is not None:
            return self._db.find_lookalikes(shape)
        return [self._account(self._accounts[i]) for i in sorted(self._shapes.get(shape, ()))]

    @_shared(None)
    def create(self, account: Account) -> Account | None:
        if self._db is not None:
            return self._db.create(account)
        if account.kind is not AccountKind.REGISTERED:
            raise ValueError(f"create() stores registered accounts only, not {account!r}")
        shape = skeleton(account.name)
        if account.key in self._registered or self._shape_taken(shape):
            return None
        assert account.password_hash is not None
        row = AccountRow(self._take_id("account"), account.key, account.name, "registered", account.password_hash,
                         self._stamp(), None, shape, False)

        def refused(result: Rows | StoreError) -> bool:
            # Sent again after a lost connection, the row may be there already (ours:
            # fine); a row of another writer under this id is a refusal too. Another
            # node that registered the name first (the unique index) is the usual one.
            if isinstance(result, StoreError) or not result[1]:
                why = result if isinstance(result, StoreError) else "its id belongs to another row"
                log.error(
                    "the database refused the new account %r (%s): it is removed again; a connection waiting "
                    "for it is told the name is taken", row.name, why,
                )
                self._drop_account(row)
                if self.changes is not None:  # the other nodes drop it too, and find the winner
                    self.changes.append(["store", "@refused", [row.id, row.key], {}, []])
                    self.fetch_account(row.key)
                return True
            return False

        try:
            self._write([
                ("INSERT INTO account (id, key, name, kind, password_hash, created_at, skeleton)"
                 " VALUES (%s, %s, %s, 'registered', %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                 (row.id, row.key, row.name, row.password_hash, row.created_at, shape)),
                ("SELECT 1 FROM account WHERE id = %s AND key = %s AND password_hash = %s",
                 (row.id, row.key, row.password_hash)),
            ], refused, ErrorCode.NAME_TAKEN)
        except StoreError:
            self._give_back("account", row.id)
            raise
        self._add_account(row)
        return dataclasses.replace(account, id=row.id)

    @_shared(False)
    def rename(self, account_id: int, new_name: str) -> bool:
        if self._db is not None:
            return self._db.rename(account_id, new_name)
        row = self._accounts.get(account_id)
        if row is None or row.kind != "registered":
            return False
        key, shape = name_key(new_name), skeleton(new_name)
        holder = self._registered.get(key)
        if (holder is not None and holder is not row) or self._shape_taken(shape, but=account_id):
            return False
        self._write([(
            "UPDATE account SET name = %s, key = %s, skeleton = %s,"
            " lookalike_allowed = lookalike_allowed AND skeleton IS NOT DISTINCT FROM %s WHERE id = %s",
            (new_name, key, shape, shape, account_id),
        )])
        self._drop_account(row)
        row.lookalike_allowed = row.lookalike_allowed and row.skeleton == shape
        row.name, row.key, row.skeleton = new_name, key, shape
        self._add_account(row)
        return True

    @_shared()
    def set_password(self, account_id: int, password_hash: str) -> None:
        if self._db is not None:
            return self._db.set_password(account_id, password_hash)
        row = self._accounts.get(account_id)
        if row is None or row.kind != "registered":
            return None
        self._write([("UPDATE account SET password_hash = %s WHERE id = %s", (password_hash, account_id))])
        row.password_hash = password_hash
        return None

    @_shared()
    def delete(self, account_id: int) -> None:
        if self._db is not None:
            return self._db.delete(account_id)
        row = self._accounts.get(account_id)
        if row is None or row.kind != "registered":
            return None
        self._write([("DELETE FROM account WHERE id = %s AND kind = 'registered'", (account_id,))])
        self._drop_account(row)
        return None

    def count_accounts(self) -> int:
        if self._db is not None:
            return self._db.count_accounts()
        return len(self._registered)

    @_shared()
    def sync_preconfigured(self, accounts: Sequence[Account]) -> list[Account]:
        if self._db is not None:
            return self._db.sync_preconfigured(accounts)
        result: list[Account] = []
        statements: list[tuple[str, Sequence[object]]] = []
        created = self._stamp()
        for account in accounts:
            row = self._preconfigured.get(account.key)
            if row is None:
                row = AccountRow(self._take_id("account"), account.key, account.name, "preconfigured", None, created,
                                 None, skeleton(account.name), False)
                statements.append((
                    "INSERT INTO account (id, key, name, kind, password_hash, created_at, skeleton)"
                    " VALUES (%s, %s, %s, 'preconfigured', NULL, %s, %s) ON CONFLICT (id) DO NOTHING",
                    (row.id, row.key, row.name, created, row.skeleton),
                ))
                self._add_account(row)
            elif row.name != account.name:
                row.name, row.skeleton = account.name, skeleton(account.name)
                statements.append(("UPDATE account SET name = %s, skeleton = %s WHERE id = %s",
                                   (row.name, row.skeleton, row.id)))
            result.append(dataclasses.replace(account, id=row.id))
        if statements:
            self._write(statements)
        return result

    @_shared()
    def set_last_seen(self, account_id: int, ts: float) -> None:
        if self._db is not None:
            return self._db.set_last_seen(account_id, ts)
        row = self._accounts.get(account_id)
        if row is None:
            return None
        self._write([("UPDATE account SET last_seen = %s WHERE id = %s", (ts, account_id))])
        row.last_seen = ts
        unread = self._unread.get(account_id)
        if unread:
            kept = [t for t in unread if t > ts]
            if kept:
                self._unread[account_id] = kept
            else:
                del self._unread[account_id]
        return None

    def last_seen(self, account_id: int) -> float | None:
        if self._db is not None:
            return self._db.last_seen(account_id)
        row = self._accounts.get(account_id)
        return row.last_seen if row is not None else None

    def created_at(self, account_id: int) -> str | None:
        if self._db is not None:
            return self._db.created_at(account_id)
        row = self._accounts.get(account_id)
        return row.created_at if row is not None else None

    # --- messages ---------------------------------------------------------------------------------

    @_shared()
    def append_messages(self, records: Sequence[HistoryRecord]) -> None:
        """Store a batch (see :class:`pollchat.store.ports.MessageStore`): queued as one
        transaction, seen by the queries at once.

        Raises:
            StoreError: the database is unreachable (the history keeps the batch and
                retries: nothing is promised meanwhile) or the driver's queue is full.
            ValueError: an inconsistent record (nothing is written).
        """
        if self._db is not None:
            return self._db.append_messages(records)
        if not records:
            return None
        rows = message_rows(records)
        if any(not isinstance(record.text, str) or not isinstance(record.sender, str) for record in records):
            raise StoreError("the database refused the write (a message without text or sender)")
        assert self.driver is not None
        if self._replay is None:
            if not self.driver.connected:
                raise StoreError(f"the database {self.path} is unavailable")
            pool = self._ids["message"]
            if len(pool) < len(records):
                self._refill("message", 2 * len(records))
                raise StoreError(f"no message ids reserved yet for {len(records)} messages: the database has not answered")
        ids = [self._take_id("message") for _ in records]
        statements: list[tuple[str, Sequence[object]]] = []
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            # Scalar parameters (psycopg dumps them in C), not arrays: measured 3 x cheaper.
            parameters: list[object] = []
            for message_id, row in zip(ids[start:], chunk):
                parameters.append(message_id)
                parameters.extend(row)
            statements.append((_insert_messages(len(chunk)), parameters))
        try:
            self._write(statements)
        except StoreError:
            for message_id in reversed(ids):
                self._give_back("message", message_id)
            raise
        self._message_count += len(records)
        for message_id, record in zip(ids, records):
            stored = HistoryRecord(
                record.ts, record.kind, record.sender_id, record.sender, record.text, record.recipient_id,
                record.recipient, message_id, record.group_id,
            )
            if record.recipient_id is not None:
                self._remember_private(stored)
                recipient = self._accounts.get(record.recipient_id)
                seen = recipient.last_seen if recipient is not None else None
                if seen is None or record.ts > seen:
                    self._unread.setdefault(record.recipient_id, []).append(record.ts)
            elif record.group_id is not None:
                self._groups.setdefault(record.group_id, deque(maxlen=TAIL)).append(stored)
                self._group_counts[record.group_id] = self._group_counts.get(record.group_id, 0) + 1
            else:
                self._main_count += 1
                if record.kind in _PUBLIC_KINDS:
                    self._public.append(stored)
        return None

    def _remember_private(self, record: HistoryRecord) -> None:
        assert record.recipient_id is not None
        for account_id in {record.sender_id, record.recipient_id}:
            self._private.setdefault(account_id, deque(maxlen=TAIL)).append(record)

    def recent_public(self, limit: int) -> list[HistoryRecord]:
        if self._db is not None:
            return self._db.recent_public(limit)
        _check_count("limit", limit)
        return list(self._public)[-limit:] if limit else []

    def private_for(self, account_id: int, limit: int) -> list[HistoryRecord]:
        if self._db is not None:
            return self._db.private_for(account_id, limit)
        _check_count("limit", limit)
        return list(self._private.get(account_id, ()))[-limit:] if limit else []

    def group_messages(self, group_id: int, limit: int) -> list[HistoryRecord]:
        if self._db is not None:
            return self._db.group_messages(group_id, limit)
        _check_count("limit", limit)
        return list(self._groups.get(group_id, ()))[-limit:] if limit else []

    # --- reads past the views: asynchronous -------------------------------------------------------

    def messages_before(
        self, conversation: Conversation, limit: int, *, before_id: int | None = None, before_ts: float | None = None
    ) -> list[HistoryRecord]:
        """As the port says, before :meth:`attach` only (the rows may lie past the
        views' tails, and the loop must not wait): afterwards use
        :meth:`messages_before_later`.

        Raises:
            StoreError: attached.
        """
        if self._db is not None:
            return self._db.messages_before(conversation, limit, before_id=before_id, before_ts=before_ts)
        raise StoreError(_ASYNC_ONLY.format("scrollback"))

    def search_messages(
        self,
        viewer_id: int,
        words: Sequence[str],
        limit: int,
        *,
        conversation: Conversation | None = None,
        group_ids: Sequence[int] = (),
    ) -> list[HistoryRecord]:
        """As the port says, before :meth:`attach` only: afterwards use
        :meth:`search_messages_later`.

        Raises:
            StoreError: attached.
        """
        if self._db is not None:
            return self._db.search_messages(viewer_id, words, limit, conversation=conversation, group_ids=group_ids)
        raise StoreError(_ASYNC_ONLY.format("search"))

    def messages_between(
        self,
        after: float | None,
        before: float | None,
        limit: int,
        *,
        newest: bool,
        group_id: int | None = None,
        pair: tuple[int, int] | None = None,
    ) -> list[HistoryRecord]:
        """As the port says, before :meth:`attach` only (once attached, the IRC
        gateway's CHATHISTORY reads through :meth:`messages_between_later`).

        Raises:
            StoreError: attached.
        """
        if self._db is not None:
            return self._db.messages_between(after, before, limit, newest=newest, group_id=group_id, pair=pair)
        raise StoreError(_ASYNC_ONLY.format("CHATHISTORY"))

    def messages_before_later(
        self,
        conversation: Conversation,
        limit: int,
        done: HistoryAnswer,
        *,
        before_id: int | None = None,
        before_ts: float | None = None,
    ) -> None:
        """Scrollback (:class:`pollchat.store.ports.AsyncHistoryReads`): one query
        through the driver, behind the writes queued before it; ``done`` gets the
        records oldest first.

        Raises:
            ValueError: ``limit`` is negative (``done`` is not called).
        """
        if self._db is not None:
            done(self._db.messages_before(conversation, limit, before_id=before_id, before_ts=before_ts))
            return
        _check_count("limit", limit)
        sql, parameters = _messages_before_sql(conversation, limit, before_id, before_ts)
        self._read(sql, parameters, lambda rows: [_record(row) for row in reversed(rows)], done)

    def search_messages_later(
        self,
        viewer_id: int,
        words: Sequence[str],
        limit: int,
        done: HistoryAnswer,
        *,
        conversation: Conversation | None = None,
        group_ids: Sequence[int] = (),
    ) -> None:
        """Search (:class:`pollchat.store.ports.AsyncHistoryReads`): PostgreSQL's
        full-text query through the driver; ``done`` gets the records newest first.

        Raises:
            ValueError: ``limit`` is negative (``done`` is not called).
        """
        if self._db is not None:
            done(self._db.search_messages(viewer_id, words, limit, conversation=conversation, group_ids=group_ids))
            return
        _check_count("limit", limit)
        if not words or not limit:
            done([])
            return
        sql, parameters = _search_sql(viewer_id, words, limit, conversation, group_ids)
        self._read(sql, parameters, lambda rows: [_record(row) for row in rows], done)

    def messages_between_later(
        self,
        after: float | None,
        before: float | None,
        limit: int,
        done: HistoryAnswer,
        *,
        newest: bool,
        group_id: int | None = None,
        pair: tuple[int, int] | None = None,
    ) -> None:
        """One conversation's messages between two times
        (:meth:`pollchat.store.ports.MessageStore.messages_between`) through the driver;
        ``done`` gets them oldest first.

        Raises:
            ValueError: ``limit`` is negative, or both ``group_id`` and ``pair`` given
                (``done`` is not called).
        """
        if self._db is not None:
            done(self._db.messages_between(after, before, limit, newest=newest, group_id=group_id, pair=pair))
            return
        _check_count("limit", limit)
        where, parameters = between_clause(after, before, group_id, pair, "%s")
        order = "DESC" if newest else "ASC"
        self._read(
            f"SELECT {_COLUMNS} FROM message WHERE {where} ORDER BY id {order} LIMIT %s",
            (*parameters, limit),
            lambda rows: [_record(row) for row in (reversed(rows) if newest else rows)],
            done,
        )

    def _read(
        self,
        sql: str,
        parameters: Sequence[object],
        convert: Callable[[list[tuple[object, ...]]], list[HistoryRecord]],
        done: HistoryAnswer,
    ) -> None:
        """Send one query (``%s`` placeholders) and give ``done`` its converted rows,
        or a :class:`StoreError` at once while the database is unavailable (a read is
        not queued for the reconnection: the person asking is told to try again)."""
        assert self.driver is not None
        if not self.driver.connected:
            done(StoreError(f"the database {self.path} is unavailable"))
            return
        numbers = iter(range(1, 10_000))
        query = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)

        def completed(result: Rows | StoreError) -> None:
            done(result if isinstance(result, StoreError) else convert(result[0]))

        try:
            self.driver.submit([(query, parameters)], completed)
        except StoreError as exc:
            done(exc)

    def count_private_since(self, account_id: int, ts: float) -> int:
        """Private messages to the account after ``ts``, counted from the unread ones
        the view keeps (those after its last-seen time: what the server asks for)."""
        if self._db is not None:
            return self._db.count_private_since(account_id, ts)
        return sum(1 for t in self._unread.get(account_id, ()) if t > ts)

    def count_main(self) -> int:
        if self._db is not None:
            return self._db.count_main()
        return self._main_count

    @_shared()
    def prune_main(self, keep: int, batch: int = 1000) -> int:
        """As the port says; the count returned is the number the queued ``DELETE``
        removes (the view counts the main chat's rows)."""
        if self._db is not None:
            return self._db.prune_main(keep, batch)
        _check_limits(keep, batch)
        excess = min(self._main_count - keep, batch)
        if excess <= 0:
            return 0
        self._write([(
            f"DELETE FROM message WHERE id IN (SELECT id FROM message WHERE {_MAIN} ORDER BY id LIMIT %s)", (excess,)
        )])
        self._main_count -= excess
        self._message_count -= excess
        while len(self._public) > keep:
            self._public.popleft()
        return excess

    @_shared()
    def prune_private(self, a: int, b: int, keep: int, batch: int = 1000) -> int:
        """As the port says. When the view holds the whole conversation (an account's
        tail is not full: a conversation kept to ``--private-keep`` is small) the rows
        are chosen here, deleted by id and the count is exact; otherwise the ``DELETE``
        chooses them in the database and 0 is returned (the next message in the
        conversation looks again)."""
        if self._db is not None:
            return self._db.prune_private(a, b, keep, batch)
        _check_limits(keep, batch)
        read_until: dict[int, float] = {}
        for account_id in {a, b}:
            row = self._accounts.get(account_id)
            read_until[account_id] = math.inf if row is None else (
                row.last_seen if row.last_seen is not None else -math.inf
            )
        tail = self._private.get(a)
        if tail is not None and len(tail) < TAIL:  # every private message of a is here
            pair = [r for r in tail if {r.sender_id, r.recipient_id} == {a, b}]
            excess = len(pair) - keep
            if excess <= 0:
                return 0
            old = [r for r in pair if r.recipient_id is not None and r.ts <= read_until[r.recipient_id]]
            chosen = old[: min(excess, batch)]
            if not chosen:
                return 0
            ids = [r.id for r in chosen]
            self._write([("DELETE FROM message WHERE id = ANY(%s::bigint[])", (ids,))])
            gone = set(ids)
            for account_id in {a, b}:
                kept = self._private.get(account_id)
                if kept is not None:
                    self._private[account_id] = deque((r for r in kept if r.id not in gone), maxlen=TAIL)
            self._message_count -= len(ids)
            return len(ids)
        parts: list[str] = []
        parameters: list[object] = []
        for recipient, sender in ((b, a), (a, b)) if a != b else ((a, a),):
            until = read_until[recipient]
            if until == -math.inf:
                continue  # never logged out: nothing read yet
            where = "recipient_id = %s AND sender_id = %s" + (" AND ts <= %s" if until != math.inf else "")
            parts.append(f"SELECT id FROM message WHERE {where}")
            parameters += [recipient, sender] + ([until] if until != math.inf else [])
        if not parts:
            return 0
        self._write([(
            f"DELETE FROM message WHERE id IN (SELECT id FROM ({' UNION ALL '.join(parts)}) AS old ORDER BY id"
            " LIMIT GREATEST(0, LEAST(%s, (SELECT count(*) FROM message WHERE (recipient_id = %s AND sender_id = %s)"
            " OR (recipient_id = %s AND sender_id = %s)) - %s)))",
            (*parameters, batch, b, a, a, b, keep),
        )])
        return 0

    @_shared()
    def prune_group(self, group_id: int, keep: int, batch: int = 1000) -> int:
        """As the port says; the view counts each group's rows."""
        if self._db is not None:
            return self._db.prune_group(group_id, keep, batch)
        _check_limits(keep, batch)
        excess = min(self._group_counts.get(group_id, 0) - keep, batch)
        if excess <= 0:
            return 0
        self._write([(
            "DELETE FROM message WHERE id IN (SELECT id FROM message WHERE group_id = %s ORDER BY id LIMIT %s)",
            (group_id, excess),
        )])
        self._group_counts[group_id] -= excess
        self._message_count -= excess
        tail = self._groups.get(group_id)
        while tail and len(tail) > keep:
            tail.popleft()
        return excess

    def conversations(self) -> tuple[list[tuple[int, int]], list[int]]:
        if self._db is not None:
            return self._db.conversations()
        pairs = {
            (min(r.sender_id, r.recipient_id), max(r.sender_id, r.recipient_id))
            for tail in self._private.values() for r in tail if r.recipient_id is not None
        }
        return sorted(pairs), sorted(group_id for group_id, tail in self._groups.items() if tail)

    def count_messages(self) -> int:
        if self._db is not None:
            return self._db.count_messages()
        return self._message_count

    # --- bans -------------------------------------------------------------------------------------

    @_shared()
    def set_ban(self, account_id: int, until: float | None, reason: str, by: str, now: float) -> None:
        if self._db is not None:
            return self._db.set_ban(account_id, until, reason, by, now)
        self._write([(
            'INSERT INTO ban (account_id, until, reason, "by", created) VALUES (%s, %s, %s, %s, %s)'
            ' ON CONFLICT (account_id) DO UPDATE SET until = EXCLUDED.until, reason = EXCLUDED.reason,'
            ' "by" = EXCLUDED."by", created = EXCLUDED.created',
            (account_id, until, reason, by, now),
        )])
        self._bans[account_id] = (until, reason, by)
        return None

    @_shared(False)
    def clear_ban(self, account_id: int) -> bool:
        if self._db is not None:
            return self._db.clear_ban(account_id)
        if account_id not in self._bans:
            return False
        self._write([("DELETE FROM ban WHERE account_id = %s", (account_id,))])
        del self._bans[account_id]
        return True

    def ban_of(self, account_id: int, now: float) -> tuple[float | None, str, str] | None:
        if self._db is not None:
            return self._db.ban_of(account_id, now)
        ban = self._bans.get(account_id)
        if ban is None or (ban[0] is not None and ban[0] <= now):
            return None
        return ban

    @_shared()
    def set_address_ban(self, network: str, until: float | None, reason: str, by: str, now: float) -> None:
        if self._db is not None:
            return self._db.set_address_ban(network, until, reason, by, now)
        self._write([(
            'INSERT INTO address_ban (network, until, reason, "by", created) VALUES (%s, %s, %s, %s, %s)'
            ' ON CONFLICT (network) DO UPDATE SET until = EXCLUDED.until, reason = EXCLUDED.reason,'
            ' "by" = EXCLUDED."by", created = EXCLUDED.created',
            (network, until, reason, by, now),
        )])
        self._address_bans[network] = (until, reason, by)
        return None

    @_shared()
    def clear_address_ban(self, network: str) -> None:
        if self._db is not None:
            return self._db.clear_address_ban(network)
        if self._address_bans.pop(network, None) is not None:
            self._write([("DELETE FROM address_ban WHERE network = %s", (network,))])
        return None

    def address_bans(self, now: float) -> list[tuple[str, float | None, str, str]]:
        if self._db is not None:
            return self._db.address_bans(now)
        return [
            (network, until, reason, by)
            for network, (until, reason, by) in sorted(self._address_bans.items())
            if until is None or until > now
        ]

    # --- groups -----------------------------------------------------------------------------------

    def load_groups(self) -> list[Group]:
        """Every live group with its members, bans and requests (current names), as the
        port says; after :meth:`attach` from the view (copies: the caller may change them)."""
        if self._db is not None:
            return self._db.load_groups()
        accounts = self._accounts

        def members(kept: dict[int, Member]) -> dict[int, Member]:
            return {
                account_id: Member(account_id, accounts[account_id].name, member.since)
                for account_id, member in kept.items()
                if account_id in accounts  # a deleted account's rows no longer join
            }

        return [
            Group(g.id, g.name, g.visibility, g.owner_id, g.topic, members(g.members), set(g.bans), members(g.requests))
            for g in sorted(self._live.values(), key=lambda group: group.id)
        ]

    def _group(self, group_id: int) -> Group | None:
        return self._live.get(group_id)

    def _member(self, account_id: int, since: float) -> Member:
        row = self._accounts.get(account_id)
        return Member(account_id, row.name if row is not None else "", since)

    @_shared()
    def create_group(self, name: str, visibility: str, owner_id: int, now: float) -> int:
        """As the port says.

        Raises:
            StoreConflict: a live group has that name already (any case).
            StoreError: ``visibility`` is neither ``public`` nor ``private``.
        """
        if self._db is not None:
            return self._db.create_group(name, visibility, owner_id, now)
        key = name_key(name)
        if key in self._group_keys:
            raise StoreConflict(f"a live group is named {name!r} already")
        try:
            kind = Visibility(visibility)
        except ValueError:
            raise StoreError(f"the database refused the write (visibility {visibility!r})") from None
        group_id = self._take_id("chat_group")

        def settled(result: Rows | StoreError) -> bool | Refusal:
            # Another node made a live group of this name a moment ago (the partial
            # unique index kept its row, not ours): ours is dropped from the view, the
            # winner read in its place, and the other nodes told to do the same.
            if isinstance(result, StoreError):
                log.error("the database refused the new group %r (%s)", name, result)
                self._drop_group(group_id)
                self._corrected("create_group")
                return True
            winner = result[2][0] if result[2] else None
            if winner is None or winner[0] == group_id:
                return False
            log.warning("group %r: another node made it first (id %d, ours %d): this view takes theirs",
                        name, winner[0], group_id)
            members = [list(member) for member in result[3]]
            record: list[Any] = [group_id, key, list(winner), members]
            lost = list(self._groups.get(group_id, ()))  # lines said in ours meanwhile
            self._group_refused(group_id, key, winner, members)
            # What was written for our group (lines, members who joined it) goes: ids
            # are unique across nodes, so nothing else has this group id.
            self._write([(f"DELETE FROM {table} WHERE group_id = %s", (group_id,))
                         for table in ("message", "group_member", "group_request", "group_ban")])
            if self.changes is not None:
                self.changes.append(["store", "@group_refused", record, {}, []])
            self._corrected("create_group")
            if lost and self.on_lines_lost is not None:
                self.on_lines_lost(str(winner[1]), lost)
            return Refusal(ErrorCode.GROUP_EXISTS, {"group": str(winner[1])}, stays=True)

        self._write([
            ("INSERT INTO chat_group (id, key, name, visibility, owner_id, created) VALUES (%s, %s, %s, %s, %s, %s)"
             " ON CONFLICT DO NOTHING", (group_id, key, name, visibility, owner_id, now)),
            ("INSERT INTO group_member (group_id, account_id, joined) SELECT %s, %s, %s"
             " WHERE EXISTS (SELECT 1 FROM chat_group WHERE id = %s AND deleted IS NULL) ON CONFLICT DO NOTHING",
             (group_id, owner_id, now, group_id)),
            ("SELECT id, name, visibility, owner_id, topic FROM chat_group WHERE key = %s AND deleted IS NULL", (key,)),
            ("SELECT m.account_id, a.name, m.joined FROM group_member m JOIN account a ON a.id = m.account_id"
             " WHERE m.group_id = (SELECT id FROM chat_group WHERE key = %s AND deleted IS NULL) ORDER BY m.seq", (key,)),
        ], settled)
        group = Group(group_id, name, kind, owner_id)
        group.members[owner_id] = self._member(owner_id, now)
        self._live[group_id] = group
        self._group_keys[key] = group_id
        return group_id

    def _drop_group(self, group_id: int) -> None:
        group = self._live.pop(group_id, None)
        if group is not None and self._group_keys.get(group.key) == group_id:
            del self._group_keys[group.key]

    def _group_refused(self, refused_id: int, key: str, winner: Sequence[Any], members: Sequence[Sequence[Any]]) -> None:
        """The database refused group ``refused_id`` (named ``key``) for the live group
        ``winner`` (``id, name, visibility, owner_id, topic`` with ``members`` as
        ``account_id, name, joined``) another node made first: drop the one, keep the other."""
        if refused_id in self._live and self._live[refused_id].key == key:
            self._drop_group(refused_id)
        self._groups.pop(refused_id, None)  # its lines were not kept
        self._message_count -= self._group_counts.pop(refused_id, 0)
        group = self._adopt_group(winner)
        if group is None:
            return
        for account_id, member_name, joined in members:
            group.members[int(account_id)] = Member(int(account_id), member_name, float(joined))

    def _adopt_group(self, row: Sequence[Any]) -> Group | None:
        """Add the live group of ``row`` (``id, name, visibility, owner_id, topic``,
        from the database) to the view, without members (the caller adds them);
        ``None``: the view has that group or its name already."""
        group_id, name, visibility, owner_id, topic = row
        if group_id in self._live or name_key(name) in self._group_keys:
            return None
        group = Group(int(group_id), name, Visibility(visibility), owner_id, topic)
        self._live[group.id] = group
        self._group_keys[group.key] = group.id
        return group

    def _corrected(self, call: str) -> None:
        """The database corrected this view (a refused write): tell the node, which
        refreshes what caches it as for another node's ``call``."""
        if self.on_corrected is not None:
            self.on_corrected(call)

    @_shared()
    def add_member(self, group_id: int, account_id: int, now: float) -> None:
        if self._db is not None:
            return self._db.add_member(group_id, account_id, now)
        self._write([
            ("DELETE FROM group_request WHERE group_id = %s AND account_id = %s", (group_id, account_id)),
            ("INSERT INTO group_member (group_id, account_id, joined) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
             (group_id, account_id, now)),
        ])
        group = self._group(group_id)
        if group is not None:
            group.requests.pop(account_id, None)
            if account_id not in group.members:
                group.members[account_id] = self._member(account_id, now)
        return None

    @_shared()
    def remove_member(self, group_id: int, account_id: int, new_owner_id: int | None) -> None:
        if self._db is not None:
            return self._db.remove_member(group_id, account_id, new_owner_id)
        statements: list[tuple[str, Sequence[object]]] = [
            ("DELETE FROM group_member WHERE group_id = %s AND account_id = %s", (group_id, account_id))
        ]
        if new_owner_id is not None:
            statements.append(("UPDATE chat_group SET owner_id = %s WHERE id = %s", (new_owner_id, group_id)))
        self._write(statements)
        group = self._group(group_id)
        if group is not None:
            group.members.pop(account_id, None)
            if new_owner_id is not None:
                group.owner_id = new_owner_id
        return None

    @_shared()
    def delete_group(self, group_id: int, now: float) -> None:
        if self._db is not None:
            return self._db.delete_group(group_id, now)
        self._write([("UPDATE chat_group SET deleted = %s WHERE id = %s", (now, group_id))] + [
            (f"DELETE FROM {table} WHERE group_id = %s", (group_id,))
            for table in ("group_member", "group_ban", "group_request")
        ])
        group = self._live.pop(group_id, None)
        if group is not None and self._group_keys.get(group.key) == group_id:
            del self._group_keys[group.key]
        return None

    @_shared()
    def rename_group(self, group_id: int, name: str) -> None:
        """As the port says.

        Raises:
            StoreConflict: another live group has that name.
        """
        if self._db is not None:
            return self._db.rename_group(group_id, name)
        key = name_key(name)
        holder = self._group_keys.get(key)
        if holder is not None and holder != group_id:
            raise StoreConflict(f"a live group is named {name!r} already")
        self._write([("UPDATE chat_group SET name = %s, key = %s WHERE id = %s", (name, key, group_id))])
        group = self._group(group_id)
        if group is not None:
            if self._group_keys.get(group.key) == group_id:
                del self._group_keys[group.key]
            group.name = name
            self._group_keys[key] = group_id
        return None

    @_shared()
    def set_topic(self, group_id: int, topic: str) -> None:
        if self._db is not None:
            return self._db.set_topic(group_id, topic)
        self._write([("UPDATE chat_group SET topic = %s WHERE id = %s", (topic, group_id))])
        group = self._group(group_id)
        if group is not None:
            group.topic = topic
        return None

    @_shared()
    def add_group_ban(self, group_id: int, account_id: int, by: str, now: float) -> None:
        if self._db is not None:
            return self._db.add_group_ban(group_id, account_id, by, now)
        self._write([
            ("DELETE FROM group_member WHERE group_id = %s AND account_id = %s", (group_id, account_id)),
            ("DELETE FROM group_request WHERE group_id = %s AND account_id = %s", (group_id, account_id)),
            ('INSERT INTO group_ban (group_id, account_id, "by", created) VALUES (%s, %s, %s, %s)'
             ' ON CONFLICT (group_id, account_id) DO UPDATE SET "by" = EXCLUDED."by", created = EXCLUDED.created',
             (group_id, account_id, by, now)),
        ])
        group = self._group(group_id)
        if group is not None:
            group.members.pop(account_id, None)
            group.requests.pop(account_id, None)
            group.bans.add(account_id)
        return None

    @_shared()
    def remove_group_ban(self, group_id: int, account_id: int) -> None:
        if self._db is not None:
            return self._db.remove_group_ban(group_id, account_id)
        self._write([("DELETE FROM group_ban WHERE group_id = %s AND account_id = %s", (group_id, account_id))])
        group = self._group(group_id)
        if group is not None:
            group.bans.discard(account_id)
        return None

    @_shared()
    def add_request(self, group_id: int, account_id: int, now: float) -> None:
        if self._db is not None:
            return self._db.add_request(group_id, account_id, now)
        self._write([(
            "INSERT INTO group_request (group_id, account_id, created) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (group_id, account_id, now),
        )])
        group = self._group(group_id)
        if group is not None and account_id not in group.requests:
            group.requests[account_id] = self._member(account_id, now)
        return None

    @_shared()
    def remove_request(self, group_id: int, account_id: int) -> None:
        if self._db is not None:
            return self._db.remove_request(group_id, account_id)
        self._write([("DELETE FROM group_request WHERE group_id = %s AND account_id = %s", (group_id, account_id))])
        group = self._group(group_id)
        if group is not None:
            group.requests.pop(account_id, None)
        return None

    @_shared()
    def forget_account(self, account_id: int) -> None:
        if self._db is not None:
            return self._db.forget_account(account_id)
        self._write([
            ("DELETE FROM group_request WHERE account_id = %s", (account_id,)),
            ("DELETE FROM pending_change WHERE account_id = %s", (account_id,)),
        ])
        self._changes.pop(account_id, None)
        for group in self._live.values():
            group.requests.pop(account_id, None)
        return None

    @_shared()
    def queue_change(self, account_id: int, change: PendingChange) -> None:
        if self._db is not None:
            return self._db.queue_change(account_id, change)
        change_id = self._take_id("pending_change")
        self._write([
            ('INSERT INTO pending_change (id, account_id, change, group_name, name, "by", at)'
             " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
             (change_id, account_id, change.change, change.group, change.name, change.by, change.at)),
            ("DELETE FROM pending_change WHERE account_id = %s AND id NOT IN"
             " (SELECT id FROM pending_change WHERE account_id = %s ORDER BY id DESC LIMIT %s)",
             (account_id, account_id, MAX_PENDING_CHANGES)),
        ])
        kept = self._changes.setdefault(account_id, [])
        kept.append((change_id, change))
        del kept[:-MAX_PENDING_CHANGES]
        return None

    @_shared()
    def take_changes(self, account_id: int) -> list[PendingChange]:
        if self._db is not None:
            return self._db.take_changes(account_id)
        kept = self._changes.pop(account_id, None)
        if not kept:
            return []
        self._write([("DELETE FROM pending_change WHERE account_id = %s AND id <= %s", (account_id, kept[-1][0]))])
        return [change for _, change in kept]

    # --- ignore lists -----------------------------------------------------------------------------

    def ignored_ids(self, account_id: int) -> list[int]:
        if self._db is not None:
            return self._db.ignored_ids(account_id)
        return list(self._ignores.get(account_id, ()))

    def ignored_names(self, account_id: int) -> list[str]:
        """As the port says: current names, deleted accounts left out (from the view)."""
        if self._db is not None:
            return self._db.ignored_names(account_id)
        accounts = self._accounts
        return [accounts[i].name for i in self._ignores.get(account_id, ()) if i in accounts]

    def add_ignore(self, account_id: int, ignored_id: int, now: float) -> None:
        if self._db is not None:
            return self._db.add_ignore(account_id, ignored_id, now)
        self._ignore_added(account_id, ignored_id, now)
        return None

    @_shared(False)
    def _ignore_added(self, account_id: int, ignored_id: int, now: float) -> bool:
        """:meth:`add_ignore` on the view (shared with the other nodes); ``False``: the
        pair was there already (nothing written, nothing published)."""
        kept = self._ignores.setdefault(account_id, {})
        if ignored_id in kept:
            return False
        self._write([(
            "INSERT INTO account_ignore (account_id, ignored_id, created) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (account_id, ignored_id, now),
        )])
        kept[ignored_id] = now
        if any(since > now for since in kept.values()):  # an earlier clock: keep the database's order
            self._ignores[account_id] = dict(sorted(kept.items(), key=lambda item: (item[1], item[0])))
        return True

    def remove_ignore(self, account_id: int, ignored_id: int) -> None:
        if self._db is not None:
            return self._db.remove_ignore(account_id, ignored_id)
        self._ignore_removed(account_id, ignored_id)
        return None

    @_shared(False)
    def _ignore_removed(self, account_id: int, ignored_id: int) -> bool:
        """:meth:`remove_ignore` on the view (shared); ``False``: it was not there."""
        kept = self._ignores.get(account_id)
        if kept is None or ignored_id not in kept:
            return False
        self._write([
            ("DELETE FROM account_ignore WHERE account_id = %s AND ignored_id = %s", (account_id, ignored_id))
        ])
        del kept[ignored_id]
        if not kept:
            del self._ignores[account_id]
        return True

    # --- read receipts ----------------------------------------------------------------------------

    def receipts_off_accounts(self) -> list[int]:
        if self._db is not None:
            return self._db.receipts_off_accounts()
        return sorted(i for i in self._receipts_off if i in self._accounts)

    def set_receipts(self, account_id: int, on: bool) -> None:
        if self._db is not None:
            return self._db.set_receipts(account_id, on)
        self._receipts_set(account_id, on)
        return None

    @_shared(False)
    def _receipts_set(self, account_id: int, on: bool) -> bool:
        """:meth:`set_receipts` on the view (shared); ``False``: no such account, or
        the setting was that already."""
        if account_id not in self._accounts or (account_id not in self._receipts_off) == on:
            return False
        self._write([("UPDATE account SET receipts = %s WHERE id = %s", (on, account_id))])
        if on:
            self._receipts_off.discard(account_id)
        else:
            self._receipts_off.add(account_id)
        return True

    def mark_read(self, reader_id: int, partner_id: int, until: float) -> float:
        """As the port says; the mark now comes from the view (it never moves back)."""
        if self._db is not None:
            return self._db.mark_read(reader_id, partner_id, until)
        self._mark_moved(reader_id, partner_id, until)
        return self._marks[partner_id][reader_id]

    @_shared(False)
    def _mark_moved(self, reader_id: int, partner_id: int, until: float) -> bool:
        """:meth:`mark_read` on the view (shared); ``False``: the mark was there or
        later already."""
        marks = self._marks.setdefault(partner_id, {})
        now = marks.get(reader_id)
        if now is not None and now >= until:
            return False
        self._write([(
            "INSERT INTO read_mark (reader_id, partner_id, until) VALUES (%s, %s, %s)"
            " ON CONFLICT (reader_id, partner_id) DO UPDATE SET until = GREATEST(read_mark.until, excluded.until)",
            (reader_id, partner_id, until),
        )])
        marks[reader_id] = until
        return True

    def read_by_others(self, account_id: int) -> list[tuple[int, str, float]]:
        if self._db is not None:
            return self._db.read_by_others(account_id)
        accounts = self._accounts
        return [
            (reader, accounts[reader].name, until)
            for reader, until in sorted(self._marks.get(account_id, {}).items())
            if reader in accounts
        ]

    # --- several nodes on one database ------------------------------------------------------------

    def apply_remote(self, record: Sequence[Any]) -> str:
        """Apply another node's view write to this view, writing nothing: ``record`` is
        one :attr:`changes` record (``["store", name, args, kwargs, draws]``) of that
        node; the call runs here with the ids and times it took there. ``"@refused"``
        (``args``: id, key): the database refused that node's new account, dropped here
        too. A call this view cannot take (a name taken here meanwhile) is logged and
        skipped: the database has the last word, and a miss asks it
        (:meth:`fetch_account`).

        Returns:
            the call's name (the caller refreshes what caches it, such as the groups).

        Raises:
            ValueError: not a store record, or a call or type this version does not share.
        """
        _, name, args, kwargs, draws = record
        if self._reloading is not None:
            self._reloading.append(record)
        for since in self._fetching:
            since.append(record)
        if name == "create_group" and draws and draws[0] in self._live:
            return str(name)  # looked up from the database already (fetch_group)
        if name == "@group_refused":
            self._group_refused(int(args[0]), str(args[1]), args[2], args[3])
            return "create_group"
        if name == "@refused":
            account_id, key = args
            row = self._accounts.get(int(account_id))
            if row is not None and row.key == key:
                self._drop_account(row)
            return str(name)
        if name not in _SHARED or self.driver is None or not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ValueError(f"not a store call this node can apply: {name!r}")
        try:
            values = _from_json(args)
            named = {str(key): _from_json(value) for key, value in kwargs.items()}
        except (KeyError, TypeError) as exc:  # a malformed record costs that record
            raise ValueError(f"malformed arguments of {name!r}: {exc!r}") from None
        assert isinstance(values, list)
        self._replay = list(draws)
        try:
            getattr(self, name)(*values, **named)
        except (StoreConflict, StoreError, IndexError) as exc:
            log.warning("another node's %s does not apply to this node's view: %s", name, exc)
        finally:
            self._replay = None
        return str(name)

    def fetch_account(self, key: str, then: Callable[[], None] | None = None) -> None:
        """Ask the database for the account whose key is ``key`` (and its ban), which
        the view does not have (registered on another node a moment ago, or its bus
        record lost), and add it to the view; then call ``then`` (on the loop, once the
        answer is in: found or not, or the database unreachable). Never waits."""
        if self.driver is None or not self.driver.connected:
            if then is not None:
                then()
            return

        def found(result: Rows | StoreError) -> None:
            if isinstance(result, StoreError):
                log.warning("looking up account %r failed: %s", key, result)
            else:
                for row in result[0]:
                    self._load_account_row(row)
            if then is not None:
                then()

        try:
            self.driver.submit([(self._placeholders(
                f"SELECT {_ACCOUNT_COLUMNS} FROM account a LEFT JOIN ban b ON b.account_id = a.id WHERE a.key = %s"
            ), (key,))], found)
        except StoreError:
            if then is not None:
                then()

    def fetch_group(self, key: str, then: Callable[[], None] | None = None) -> None:
        """Ask the database for the live group whose name key is ``key`` (with its
        members, requests and bans, and the rows of member accounts the view lacks),
        which the view does not have (made on another node a moment ago, or its bus
        record lost), and add it to the view; then call ``then`` (on the loop, once the
        answer is in: found or not, or the database unreachable). Never waits.

        Another node's changes to that group applied while the question was out are
        applied again over the answer (it may predate them: a member added, the group
        deleted), as :meth:`reload_views` does."""
        if self.driver is None or not self.driver.connected:
            if then is not None:
                then()
            return
        since: list[Sequence[Any]] = []

        def found(result: Rows | StoreError) -> None:
            self._fetching.remove(since)
            if isinstance(result, StoreError):
                log.warning("looking up group %r failed: %s", key, result)
            elif result[0]:
                self._load_group_rows(result[0][0], result[1], result[2], result[3], since)
            if then is not None:
                then()

        live = "(SELECT id FROM chat_group WHERE key = %s AND deleted IS NULL)"
        try:
            self.driver.submit([(self._placeholders(sql), (key,)) for sql in (
                "SELECT id, name, visibility, owner_id, topic FROM chat_group WHERE key = %s AND deleted IS NULL",
                f"SELECT m.joined, {_ACCOUNT_COLUMNS} FROM group_member m JOIN account a ON a.id = m.account_id"
                f" LEFT JOIN ban b ON b.account_id = a.id WHERE m.group_id = {live} ORDER BY m.seq",
                f"SELECT r.created, {_ACCOUNT_COLUMNS} FROM group_request r JOIN account a ON a.id = r.account_id"
                f" LEFT JOIN ban b ON b.account_id = a.id WHERE r.group_id = {live} ORDER BY r.seq",
                f"SELECT account_id FROM group_ban WHERE group_id = {live}",
            )], found)
        except StoreError:
            if then is not None:
                then()
            return
        self._fetching.append(since)

    def _load_group_rows(
        self,
        row: Sequence[Any],
        members: Sequence[Sequence[Any]],
        requests: Sequence[Sequence[Any]],
        bans: Sequence[Sequence[Any]],
        since: Sequence[Sequence[Any]],
    ) -> None:
        """Add one looked-up group (``row``: id, name, visibility, owner id, topic;
        ``members`` and ``requests``: the time, then an account row as
        :meth:`_load_account_row` takes it; ``bans``: account ids) unless the view has
        it or its name already; then apply again the calls on it in ``since``."""
        group = self._adopt_group(row)
        if group is None:
            return
        for table, rows in ((group.members, members), (group.requests, requests)):
            for joined, *account in rows:
                self._load_account_row(account)
                table[int(account[0])] = Member(int(account[0]), str(account[2]), float(joined))
        group.bans.update(int(ban[0]) for ban in bans)
        for record in since:
            if record[1] in _GROUP_WRITES and record[2] and record[2][0] == group.id:
                self.apply_remote(record)

    def _load_account_row(self, row: Sequence[Any]) -> None:
        """Add one looked-up account row (with its ban) unless the view has it or its
        name already (the view's own row wins until the bus or the database says more)."""
        account_id, key, name, kind, password_hash, created_at, last_seen, shape, allowed, banned = row[:10]
        if account_id in self._accounts or key in (self._registered if kind == "registered" else self._preconfigured):
            return
        self._add_account(AccountRow(account_id, key, name, kind, password_hash, created_at, last_seen,
                                     shape or skeleton(name), bool(allowed)))
        if banned:
            self._bans[account_id] = (row[10], row[11], row[12])

    def reload_views(self, then: Callable[[], None]) -> None:
        """Read the accounts, bans, address bans, pending changes, groups, ignore lists,
        receipt settings and read marks again from the database (entries of the
        cluster's bus were lost, or the node was reaped), in one query sent through the
        driver, then call ``then``. The view writes made
        here or applied from other nodes between the question and the answer are applied
        again over it (the answer may predate them). The history's tails are kept."""
        self._reloaded.append(then)
        if self._reloading is not None:
            return
        if self.driver is None:
            self._reload_done()
            return
        self._reloading = []
        try:
            self.driver.submit([(self._placeholders(sql), ()) for sql in _RELOAD], self._reload_answered)
        except StoreError as exc:
            log.warning("reading the views again failed: %s", exc)
            self._reloading = None
            self._reload_done()

    def _reload_answered(self, result: Rows | StoreError) -> None:
        since, self._reloading = self._reloading or [], None
        if isinstance(result, StoreError):
            log.warning("reading the views again failed: %s", result)
            self._reload_done()
            return
        accounts, bans, address_bans, changes, groups, members, requests, group_bans, ignores, off, marks = result
        self._accounts, self._registered, self._preconfigured, self._shapes = {}, {}, {}, {}
        for row in accounts:
            account_id, key, name, kind, password_hash, created_at, last_seen, shape, allowed = row
            self._add_account(AccountRow(account_id, key, name, kind, password_hash, created_at, last_seen,
                                         shape or skeleton(name), bool(allowed)))
        self._bans = {r[0]: (r[1], r[2], r[3]) for r in bans}
        self._address_bans = {r[0]: (r[1], r[2], r[3]) for r in address_bans}
        self._changes = {}
        for row in changes:
            self._changes.setdefault(row[1], []).append((row[0], PendingChange(*row[2:])))
        live: dict[int, Group] = {}
        for group_id, name, visibility, owner_id, topic in groups:
            live[group_id] = Group(group_id, name, Visibility(visibility), owner_id, topic)
        for table, rows in (("members", members), ("requests", requests)):
            for group_id, account_id, name, since_ts in rows:
                if group_id in live:
                    getattr(live[group_id], table)[account_id] = Member(account_id, name, since_ts)
        for group_id, account_id in group_bans:
            if group_id in live:
                live[group_id].bans.add(account_id)
        self._live = live
        self._group_keys = {group.key: group.id for group in live.values()}
        self._ignores = {}
        for account_id, ignored_id, created in ignores:
            self._ignores.setdefault(account_id, {})[ignored_id] = float(created)
        self._receipts_off = {row[0] for row in off}
        self._marks = {}
        for reader_id, partner_id, until in marks:
            self._marks.setdefault(partner_id, {})[reader_id] = float(until)
        for record in since:
            if record[1] not in _HISTORY_CALLS:  # the tails were not read again
                self.apply_remote(record)
        log.info("views read again: %d accounts, %d groups", len(self._accounts), len(live))
        self._reload_done()

    def _reload_done(self) -> None:
        waiting, self._reloaded = self._reloaded, []
        for then in waiting:
            then()


_HISTORY_CALLS = frozenset({"append_messages", "prune_main", "prune_private", "prune_group"})

_GROUP_WRITES = frozenset({
    "add_member", "remove_member", "delete_group", "rename_group", "set_topic", "add_group_ban", "remove_group_ban",
    "add_request", "remove_request",
})
"""The view writes whose first argument is a group's id (each may be applied twice)."""

_ACCOUNT_COLUMNS = (
    "a.id, a.key, a.name, a.kind, a.password_hash, a.created_at, a.last_seen, a.skeleton, a.lookalike_allowed,"
    ' b.account_id IS NOT NULL, b.until, b.reason, b."by"'
)
"""An account row with its ban (``account a LEFT JOIN ban b``), as
:meth:`PgViewStore._load_account_row` takes it."""

_RELOAD = (
    "SELECT id, key, name, kind, password_hash, created_at, last_seen, skeleton, lookalike_allowed FROM account ORDER BY id",
    'SELECT account_id, until, reason, "by" FROM ban',
    'SELECT network, until, reason, "by" FROM address_ban',
    'SELECT id, account_id, change, group_name, name, "by", at FROM pending_change ORDER BY id',
    "SELECT id, name, visibility, owner_id, topic FROM chat_group WHERE deleted IS NULL ORDER BY id",
    "SELECT m.group_id, m.account_id, a.name, m.joined FROM group_member m JOIN account a ON a.id = m.account_id ORDER BY m.seq",
    "SELECT r.group_id, r.account_id, a.name, r.created FROM group_request r JOIN account a ON a.id = r.account_id"
    " ORDER BY r.seq",
    "SELECT group_id, account_id FROM group_ban",
    "SELECT account_id, ignored_id, created FROM account_ignore ORDER BY created, ignored_id",
    "SELECT id FROM account WHERE NOT receipts",
    "SELECT reader_id, partner_id, until FROM read_mark",
)
"""What :meth:`PgViewStore.reload_views` reads, in one transaction."""
