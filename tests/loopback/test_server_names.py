"""Loopback tests of lookalike names (issue 14, finding 3): NFKC, mixed scripts and
confusable skeletons at registration and /nick, and old accounts across the upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pollchat.core.passwords import hash_password
from pollchat.protocol.names import legacy_key
from pollchat.store.database import APPLICATION_ID, DATABASE_NAME, MIGRATIONS, _statements
from tests.harness import KDF_ITERATIONS, Harness

TAKEN = "username is already used"
LOOKALIKE = "that name looks too much like an existing one"
MIXED = "that name mixes Latin, Cyrillic or Greek letters: write it in one alphabet"


def test_the_three_lookalikes_of_the_audit_are_refused_at_registration(make_harness) -> None:
    harness = make_harness(max_users=10)
    harness.register("alice", "pw")
    harness.register("root", "pw")
    for name, reply in [("ａｌｉｃｅ", TAKEN), ("Ａlice", TAKEN), ("rооt", MIXED), ("aIice", LOOKALIKE), ("сосо", None)]:
        client = harness.connect()
        client.send(f"register\n{name},pw\n".encode())
        if reply is None:  # all Cyrillic, and no "coco" exists: a fine name
            assert client.line() == "Access Provided", name
            client.close()
            continue
        assert client.line() == reply, name
        client.close()
    assert harness.find_account("rооt") is None and harness.find_account("aIice") is None


def test_a_fullwidth_registration_is_stored_in_its_ordinary_form(harness: Harness) -> None:
    bob = harness.register("ｂｏｂ", "pw", shown_as="bob")
    bob.send("/nick ＢＯＢ\n".encode())
    assert bob.line() == "bob is now known as BOB"


def test_nick_to_a_lookalike_is_refused(make_harness) -> None:
    harness = make_harness(max_users=10)
    harness.register("alice", "pw")
    bob = harness.register("bob", "pw")
    for name, reply in [("ａｌｉｃｅ", TAKEN), ("Ａlice", TAKEN), ("rооt", MIXED), ("aIice", LOOKALIKE), ("user１", TAKEN),
                        ("userl", LOOKALIKE)]:
        bob.send(f"/nick {name}\n".encode())
        assert bob.line() == reply, name
    bob.send("/nick b0b\n".encode())  # like one's own name: fine
    assert bob.line() == "bob is now known as b0b"


def test_old_accounts_that_now_collide_both_still_log_in(tmp_path: Path) -> None:
    """An upgrade must lock nobody out: 'alice' and the fullwidth 'ａｌｉｃｅ' registered
    before NFKC are kept apart, each logging in with its own spelling and password."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db = sqlite3.connect(data_dir / DATABASE_NAME, isolation_level=None)
    db.execute("BEGIN")
    for script in MIGRATIONS[:4]:
        for statement in _statements(script):
            db.execute(statement)
    for name, password in [("alice", "first"), ("ａｌｉｃｅ", "second"), ("ｃａｒｏｌ", "third")]:
        db.execute(
            "INSERT INTO account (key, name, kind, password_hash, created_at) VALUES (?, ?, 'registered', ?, '')",
            (legacy_key(name), name, hash_password(password, KDF_ITERATIONS)),
        )
    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
    db.execute("PRAGMA user_version=4")
    db.execute("COMMIT")
    db.close()
    h = Harness(data_dir, max_users=10)
    try:
        h.login("alice", "first")
        h.login("ａｌｉｃｅ", "second")  # both online at once: two accounts
        h.login("carol", "third", shown_as="ｃａｒｏｌ")  # no collision: the NFKC key finds it
    finally:
        h.stop()
