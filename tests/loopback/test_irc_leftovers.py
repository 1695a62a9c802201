"""The IRC gateway's edges between front ends, with the in-process harness: a netcat user's
``/quit`` seen by IRC users who share only a group, SASL and early REGISTER logins joined to
their groups' channels, REGISTER before connection registration (IRCv3
draft/account-registration ``before-connect``), and live lines rendered by the codecs
with the account tag (the broadcast path)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from tests.harness import Harness
from tests.loopback.test_irc_chathistory import Irc, irc_login, tag


@pytest.fixture
def gateway(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness({"ann": "pw", "ben": "pw", "cy": "pw"}, irc=True, irc_port=0, max_users=8)


def netcat(harness: Harness, name: str) -> object:
    client = harness.connect()
    client.send(f"login\n{name},pw\n".encode())
    assert client.line() == "Access Provided"
    client.line()  # the active users
    return client


def test_a_netcat_quit_is_a_quit_for_irc_users_who_share_only_a_group(gateway: Harness) -> None:
    ann = irc_login(gateway, "ann", "pw")
    ann.send("JOIN #crew", "PART #lobby")
    ann.expect(" PART #lobby")
    ben = netcat(gateway, "ben")
    ben.send(b"/join #crew\n")  # type: ignore[attr-defined]
    assert ann.expect(" JOIN ") == ":ben!ben@pollchat JOIN #crew"
    ben.send(b"/quit good night\n")  # type: ignore[attr-defined]
    assert ann.expect(" QUIT ") == ":ben!ben@pollchat QUIT Quit"


def sasl_plain(name: str, password: str) -> str:
    return base64.b64encode(f"{name}\0{name}\0{password}".encode()).decode()


def test_sasl_and_early_register_logins_are_joined_to_their_groups(gateway: Harness) -> None:
    ann = irc_login(gateway, "ann", "pw")
    ann.send("JOIN #crew", "TOPIC #crew :the crew")
    ann.expect(" TOPIC #crew ")
    ann.send("QUIT")
    ann.expect("^ERROR ")

    sasl = Irc(gateway)
    sasl.send("CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
    sasl.expect("^AUTHENTICATE \\+")
    sasl.send(f"AUTHENTICATE {sasl_plain('ann', 'pw')}", "NICK ann", "USER u 0 * :A")
    sasl.expect(" 903 ")
    sasl.send("CAP END")
    after = sasl.until(" 366 ann #crew ")
    assert ":ann!ann@pollchat JOIN #crew" in after and any(" 332 ann #crew :the crew" in line for line in after)
    assert after.index(next(line for line in after if " 001 " in line)) < after.index(":ann!ann@pollchat JOIN #crew")


def test_register_before_connection_registration_as_ergo(gateway: Harness) -> None:
    early = Irc(gateway)
    early.send("CAP LS 302")
    assert "draft/account-registration=before-connect" in early.expect(" CAP \\* LS ")
    early.send("REGISTER * * secret")  # no NICK yet: the spec's NEED_NICK
    assert " FAIL REGISTER NEED_NICK * :" in early.expect(" FAIL ")
    early.send("REGISTER dan * secret")
    assert early.expect(" REGISTER SUCCESS ").endswith(" REGISTER SUCCESS dan :Account created")
    early.expect(" 900 ")
    early.send("NICK dan", "USER u 0 * :D", "CAP END")
    early.expect(" 001 dan ")

    plain = Irc(gateway)  # no CAP at all: REGISTER first, then NICK and USER
    plain.send("REGISTER eve * secret")
    plain.expect(" REGISTER SUCCESS eve ")
    plain.send("NICK eve", "USER u 0 * :E")
    plain.expect(" 001 eve ")

    taken = Irc(gateway)
    taken.send("REGISTER ann * secret")
    assert " FAIL REGISTER ACCOUNT_EXISTS ann :" in taken.expect(" FAIL ")
    taken.send("REGISTER x * a")
    taken.send("PING :still here")
    taken.expect(" PONG ")


def test_live_lines_carry_the_account_tag_and_one_msgid_whatever_the_capabilities(
    make_harness: Callable[..., Harness],
) -> None:
    gateway = make_harness({"ann": "pw", "ben": "pw", "cy": "pw"}, irc=True, irc_port=0, irc_guests=True, max_users=8)
    tagged = irc_login(gateway, "ann", "pw", caps="account-tag message-tags server-time")
    plain = irc_login(gateway, "ben", "pw", caps="message-tags")
    guest = Irc(gateway)
    guest.send("NICK visitor", "USER u 0 * :V")
    guest.expect(" 001 visitor ")
    cy = netcat(gateway, "cy")
    plain.expect(" JOIN #lobby")

    guest.send("PRIVMSG #lobby :from a guest")
    line = tagged.expect("PRIVMSG #lobby :from a guest")
    assert "account=" not in line.split(" ", 1)[0]
    cy.send(b"from netcat\n")  # type: ignore[attr-defined]
    line = tagged.expect("PRIVMSG #lobby :from netcat")
    assert tag(line, "account") == "cy"
    assert tag(plain.expect("PRIVMSG #lobby :from netcat"), "msgid") == tag(line, "msgid")  # two mode keys, one id
    plain.send("PRIVMSG #lobby :from ben")
    line = tagged.expect("PRIVMSG #lobby :from ben")
    other = guest.expect("PRIVMSG #lobby :from ben")
    assert tag(line, "account") == "ben" and not other.startswith("@")  # the guest asked for no tags
    assert cy.line() == "visitor: from a guest"  # type: ignore[attr-defined]
    assert cy.line() == "ben: from ben"  # type: ignore[attr-defined]
    plain.send("PRIVMSG ann :psst ann")
    line = tagged.expect("PRIVMSG ann :psst ann")
    assert tag(line, "account") == "ben"


def test_commands_sent_behind_the_credentials_are_carried_out_after_001(gateway: Harness) -> None:
    cy = netcat(gateway, "cy")
    bot = Irc(gateway)  # a bot that does not wait for the welcome: one write
    bot.send("PASS ann:pw", "NICK ann", "USER u 0 * :A", "JOIN #crew", "PRIVMSG #lobby :hello all")
    lines = bot.until(" 366 ann #crew ")
    assert not any(" 451 " in line for line in lines)
    assert lines.index(next(line for line in lines if " 001 " in line)) < lines.index(":ann!ann@pollchat JOIN #crew")
    assert cy.line() == "ann has entered the chat"  # type: ignore[attr-defined]
    assert cy.line() == "ann: hello all"  # type: ignore[attr-defined]

    refused = Irc(gateway)
    refused.send("PASS ben:wrong", "NICK ben", "USER u 0 * :B", "JOIN #crew")
    refused.expect(" 464 ")
    refused.send("PASS ben:pw", "NICK ben")
    refused.expect(" 001 ben ")
    refused.send("PING :end")
    assert not any(" JOIN #crew" in line for line in refused.until(" PONG "))  # the refused login's JOIN is gone
