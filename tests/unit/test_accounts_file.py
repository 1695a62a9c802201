"""The preconfigured accounts file: load_accounts_file and parse_accounts."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import tomllib
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.core.accounts import Account
from pollchat.core.seats import AccountKind
from pollchat.errors import ConfigError
from pollchat.server.accounts_file import (
    load_accounts_file,
    parse_accounts,
    render_accounts,
    save_accounts_file,
    toml_string,
)


def pbkdf2_hash(password: str, salt: str = "testsalt", iterations: int = 1000) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("utf-8"), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


HASH1 = pbkdf2_hash("123")
HASH2 = pbkdf2_hash("456", salt="othersalt")
B64 = HASH1.rsplit("$", 1)[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accounts.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_keeps_order_kind_and_hashes(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "José")
    assert decomposed != "José"
    path = write(
        tmp_path,
        f"""
# operators' accounts
[[account]]
name = "zed"
password_hash = "{HASH1}"

[[account]]
name = "{decomposed}"
password_hash = "{HASH2}"
""",
    )
    accounts = load_accounts_file(path)
    assert [a.name for a in accounts] == ["zed", "José"]  # file order, not sorted; NFC
    assert accounts[1].name == unicodedata.normalize("NFC", "José")
    assert [a.password_hash for a in accounts] == [HASH1, HASH2]
    assert all(a.kind is AccountKind.PRECONFIGURED for a in accounts)
    assert accounts[1].key == "josé"


def test_repr_never_shows_the_hash(tmp_path: Path) -> None:
    accounts = load_accounts_file(write(tmp_path, f'[[account]]\nname = "a"\npassword_hash = "{HASH1}"\n'))
    assert HASH1 not in repr(accounts)
    assert B64 not in repr(accounts)


def test_empty_file_has_no_accounts(tmp_path: Path) -> None:
    assert load_accounts_file(write(tmp_path, "")) == []
    assert load_accounts_file(write(tmp_path, "# just a comment\n")) == []


def test_parse_accounts_empty_document() -> None:
    assert parse_accounts({}, "x.toml") == []
    assert parse_accounts({"account": []}, "x.toml") == []


def test_parse_accounts_directly() -> None:
    accounts = parse_accounts({"account": [{"name": "Bob", "password_hash": HASH1}]}, "inline.toml")
    assert len(accounts) == 1
    assert accounts[0].name == "Bob"
    assert accounts[0].key == "bob"
    assert accounts[0].kind is AccountKind.PRECONFIGURED


# --- errors: ConfigError, one line, naming the file and the account ---------------------------

_ERRORS = {
    "plain-password": ({"name": "user1", "password": "123"}, "user1"),
    "plain-password-with-hash": ({"name": "user1", "password": "123", "password_hash": HASH1}, "user1"),
    "wrong-algorithm": ({"name": "user1", "password_hash": f"pbkdf2_sha1$1000$salt${B64}"}, "user1"),
    "md5": ({"name": "user1", "password_hash": f"md5$1000$salt${B64}"}, "user1"),
    "iterations-not-numeric": ({"name": "user1", "password_hash": f"pbkdf2_sha256$abc$salt${B64}"}, "user1"),
    "iterations-negative": ({"name": "user1", "password_hash": f"pbkdf2_sha256$-5$salt${B64}"}, "user1"),
    "iterations-zero": ({"name": "user1", "password_hash": f"pbkdf2_sha256$0$salt${B64}"}, "user1"),
    "iterations-too-many": ({"name": "user1", "password_hash": f"pbkdf2_sha256$100000001$salt${B64}"}, "user1"),
    "empty-salt": ({"name": "user1", "password_hash": f"pbkdf2_sha256$1000$${B64}"}, "user1"),
    "bad-base64": ({"name": "user1", "password_hash": "pbkdf2_sha256$1000$salt$@@@@"}, "user1"),
    "digest-16-bytes": (
        {"name": "user1", "password_hash": "pbkdf2_sha256$1000$salt$" + base64.b64encode(bytes(16)).decode()},
        "user1",
    ),
    "digest-64-bytes": (
        {"name": "user1", "password_hash": "pbkdf2_sha256$1000$salt$" + base64.b64encode(bytes(64)).decode()},
        "user1",
    ),
    "five-fields": ({"name": "user1", "password_hash": HASH1 + "$extra"}, "user1"),
    "hash-empty": ({"name": "user1", "password_hash": ""}, "user1"),
    "hash-missing": ({"name": "user1"}, "user1"),
    "hash-not-a-string": ({"name": "user1", "password_hash": 42}, "user1"),
    "name-with-space": ({"name": "a b", "password_hash": HASH1}, "a b"),
    "name-with-comma": ({"name": "x,y", "password_hash": HASH1}, "x,y"),
    "name-33-chars": ({"name": "n" * 33, "password_hash": HASH1}, "n" * 33),
    "name-empty": ({"name": "", "password_hash": HASH1}, "account ''"),
    "name-missing": ({"password_hash": HASH1}, "account #1"),
    "name-not-a-string": ({"name": 7, "password_hash": HASH1}, "account #1"),
    "unknown-key": ({"name": "user1", "password_hash": HASH1, "colour": "blue"}, "user1"),
    "role-unknown": ({"name": "user1", "password_hash": HASH1, "role": "root"}, "user1"),
    "role-capitalised": ({"name": "user1", "password_hash": HASH1, "role": "Admin"}, "user1"),
    "role-empty": ({"name": "user1", "password_hash": HASH1, "role": ""}, "user1"),
    "role-padded": ({"name": "user1", "password_hash": HASH1, "role": " admin"}, "user1"),
    "role-newline": ({"name": "user1", "password_hash": HASH1, "role": "admin\nuser"}, "user1"),
    "role-bool": ({"name": "user1", "password_hash": HASH1, "role": True}, "user1"),
    "role-number": ({"name": "user1", "password_hash": HASH1, "role": 1}, "user1"),
    "role-list": ({"name": "user1", "password_hash": HASH1, "role": ["admin"]}, "user1"),
    "role-table": ({"name": "user1", "password_hash": HASH1, "role": {"admin": True}}, "user1"),
}


@pytest.mark.parametrize(("entry", "account"), list(_ERRORS.values()), ids=list(_ERRORS))
def test_bad_account_is_refused(entry: dict[str, object], account: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_accounts({"account": [entry]}, "/etc/pollchat/accounts.toml")
    message = str(info.value)
    assert "/etc/pollchat/accounts.toml" in message
    assert account in message
    assert "\n" not in message


def test_plain_password_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_accounts({"account": [{"name": "user1", "password": "hunter2-secret"}]}, "a.toml")
    assert "hunter2-secret" not in str(info.value)
    assert "password_hash" in str(info.value)  # tells the operator what to do instead


def test_32_char_name_is_fine() -> None:
    accounts = parse_accounts({"account": [{"name": "n" * 32, "password_hash": HASH1}]}, "a.toml")
    assert accounts[0].name == "n" * 32


def test_error_names_the_right_account_by_position() -> None:
    document = {"account": [{"name": "good", "password_hash": HASH1}, {"password_hash": HASH1}]}
    with pytest.raises(ConfigError, match="account #2"):
        parse_accounts(document, "a.toml")


@pytest.mark.parametrize(
    ("first", "second"),
    [("user1", "user1"), ("User1", "user1"), ("ALICE", "alice"), ("José", unicodedata.normalize("NFD", "JOSÉ"))],
    ids=["same", "case", "upper", "nfd-upper"],
)
def test_duplicate_names_are_refused(first: str, second: str) -> None:
    document = {"account": [{"name": first, "password_hash": HASH1}, {"name": second, "password_hash": HASH2}]}
    with pytest.raises(ConfigError) as info:
        parse_accounts(document, "dup.toml")
    message = str(info.value)
    assert "dup.toml" in message
    assert repr(first) in message  # the account it duplicates
    assert "duplicate" in message


def test_file_error_names_the_file_and_account(tmp_path: Path) -> None:
    path = write(tmp_path, f'[[account]]\nname = "ok"\npassword_hash = "{HASH1}"\n[[account]]\nname = "x,y"\npassword_hash = "{HASH1}"\n')
    with pytest.raises(ConfigError) as info:
        load_accounts_file(path)
    assert str(path) in str(info.value)
    assert "'x,y'" in str(info.value)


def test_top_level_unknown_key(tmp_path: Path) -> None:
    path = write(tmp_path, f'max_users = 4\n[[account]]\nname = "a"\npassword_hash = "{HASH1}"\n')
    with pytest.raises(ConfigError) as info:
        load_accounts_file(path)
    assert str(path) in str(info.value)
    assert "max_users" in str(info.value)


def test_single_table_instead_of_array(tmp_path: Path) -> None:
    path = write(tmp_path, f'[account]\nname = "a"\npassword_hash = "{HASH1}"\n')
    with pytest.raises(ConfigError) as info:
        load_accounts_file(path)
    assert str(path) in str(info.value)
    assert "[[account]]" in str(info.value)


def test_account_entry_not_a_table() -> None:
    with pytest.raises(ConfigError, match=r"a\.toml: account #1 is not a table"):
        parse_accounts({"account": ["user1,123"]}, "a.toml")


def test_invalid_toml(tmp_path: Path) -> None:
    path = write(tmp_path, '[[account]]\nname = "unterminated\n')
    with pytest.raises(ConfigError) as info:
        load_accounts_file(path)
    assert str(path) in str(info.value)
    assert "TOML" in str(info.value)
    assert "\n" not in str(info.value)


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_bytes(b'[[account]]\nname = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_accounts_file(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_accounts_file(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_accounts_file(tmp_path)
    assert str(tmp_path) in str(info.value)


# --- role ---------------------------------------------------------------------------------------


def test_role_sets_admin_and_defaults_to_user(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
[[account]]
name = "boss"
role = "admin"
password_hash = "{HASH1}"

[[account]]
name = "worker"
role = "user"
password_hash = "{HASH2}"

[[account]]
name = "plain"
password_hash = "{HASH1}"
""",
    )
    accounts = load_accounts_file(path)
    assert [(a.name, a.admin) for a in accounts] == [("boss", True), ("worker", False), ("plain", False)]
    assert all(a.kind is AccountKind.PRECONFIGURED for a in accounts)


def test_bad_role_message_says_what_is_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, f'[[account]]\nname = "boss"\nrole = "root"\npassword_hash = "{HASH1}"\n')
    with pytest.raises(ConfigError) as info:
        load_accounts_file(path)
    message = str(info.value)
    assert str(path) in message
    assert "'boss'" in message
    assert "'root'" in message
    assert '"admin"' in message and '"user"' in message


def test_huge_bad_role_is_shortened() -> None:
    with pytest.raises(ConfigError) as info:
        parse_accounts({"account": [{"name": "a", "password_hash": HASH1, "role": "x" * 10_000}]}, "a.toml")
    assert len(str(info.value)) < 200


def test_role_error_does_not_hide_earlier_errors() -> None:
    """A bad role is reported after the existing checks, whose messages stay as they were."""
    with pytest.raises(ConfigError, match="plain 'password'"):
        parse_accounts({"account": [{"name": "a", "password": "x", "role": "root"}]}, "a.toml")
    with pytest.raises(ConfigError, match="invalid name"):
        parse_accounts({"account": [{"name": "a b", "password_hash": HASH1, "role": "root"}]}, "a.toml")


# --- writing: toml_string, render_accounts, save_accounts_file ------------------------------


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_toml_string_round_trips_any_text(value: str) -> None:
    assert tomllib.loads(f"key = {toml_string(value)}\n") == {"key": value}


@pytest.mark.parametrize(
    "value",
    ['say "hi"', "back\\slash", "\\u0041 stays literal", "tab\tnew\nline\r\x00\x1f\x7f", "Zoë ☃ 密码 😀", "", "'"],
    ids=["quotes", "backslash", "fake-escape", "controls", "unicode", "empty", "apostrophe"],
)
def test_toml_string_examples(value: str) -> None:
    text = toml_string(value)
    assert "\n" not in text and "\r" not in text
    assert tomllib.loads(f"key = {text}") == {"key": value}


def test_toml_string_refuses_a_lone_surrogate() -> None:
    with pytest.raises(ValueError):
        toml_string("a\udcff")


def test_render_round_trips_through_the_loader() -> None:
    accounts = [
        Account("zed", HASH1, AccountKind.PRECONFIGURED, admin=True),
        Account("José", HASH2, AccountKind.PRECONFIGURED),
        Account("Łukasz.o_k-1", HASH1, AccountKind.PRECONFIGURED, admin=True),
    ]
    text = render_accounts(accounts)
    assert text.endswith("\n")
    loaded = parse_accounts(tomllib.loads(text), "rendered.toml")
    assert [(a.name, a.password_hash, a.admin) for a in loaded] == [
        (a.name, a.password_hash, a.admin) for a in accounts
    ]


def test_render_is_correct_even_for_names_the_loader_refuses() -> None:
    """The writer escapes properly whatever it is given (names cannot hold these, but still)."""
    weird = ['quo"te', "back\\slash", "new\nline", "Zoë ☃", '\\"', "]]\n[[account]]"]
    text = render_accounts(Account(name, HASH1, AccountKind.PRECONFIGURED) for name in weird)
    document = tomllib.loads(text)
    assert [entry["name"] for entry in document["account"]] == weird
    assert all(set(entry) == {"name", "role", "password_hash"} for entry in document["account"])


def test_render_empty_list_loads_as_no_accounts() -> None:
    assert parse_accounts(tomllib.loads(render_accounts([])), "empty.toml") == []


def test_save_creates_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    save_accounts_file(path, [Account("a", HASH1, AccountKind.PRECONFIGURED, admin=True)])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    [account] = load_accounts_file(path)
    assert (account.name, account.admin) == ("a", True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.toml"]  # no temporary file left


def test_save_replaces_atomically_and_keeps_the_mode(tmp_path: Path) -> None:
    path = write(tmp_path, f'# a comment\n[[account]]\nname = "a"\npassword_hash = "{HASH1}"\n')
    os.chmod(path, 0o640)
    inode = os.stat(path).st_ino
    save_accounts_file(path, [*load_accounts_file(path), Account("b", HASH2, AccountKind.PRECONFIGURED)])
    assert os.stat(path).st_ino != inode  # a new file was renamed over the old one
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert [a.name for a in load_accounts_file(path)] == ["a", "b"]
    assert "# a comment" not in path.read_text("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts.toml"]


def test_save_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = write(tmp_path, "")
    link = tmp_path / "link.toml"
    link.symlink_to(real.name)
    save_accounts_file(link, [Account("a", HASH1, AccountKind.PRECONFIGURED)])
    assert link.is_symlink()
    assert [a.name for a in load_accounts_file(real)] == ["a"]


def test_save_error_is_one_config_error_line(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "accounts.toml"
    with pytest.raises(ConfigError) as info:
        save_accounts_file(path, [])
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
