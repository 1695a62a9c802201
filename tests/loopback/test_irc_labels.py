"""IRCv3 labeled-response and batch on the IRC gateway, with the in-process harness: a
labelled command's answer carries its label (one line), or comes in a
``labeled-response`` batch (several lines: a CHATHISTORY's own batch nested in it), or
is an ``ACK`` (no line), also when it comes in a later loop pass (a password check in
the worker pool, a SASL login, a history read on PostgreSQL); lines sent to the user
for other reasons meanwhile are neither labelled nor in the batch. And a PRIVMSG to
oneself: delivered, echoed with echo-message, kept in the history. On both store
engines."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import ENGINES, FakeClock, Harness, harnesses_on_engine
from tests.loopback.test_irc_chathistory import Irc, said

CAPS = "batch draft/chathistory echo-message labeled-response message-tags server-time"


@pytest.fixture(params=ENGINES)
def make_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    yield from harnesses_on_engine(request, tmp_path)


@pytest.fixture
def gateway(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness({"ann": "pw", "ben": "pw", "root": "toor"}, admins=("root",), irc=True, irc_port=0)


def login(harness: Harness, name: str, password: str, caps: str = CAPS) -> Irc:
    irc = Irc(harness)
    irc.send("CAP LS 302", f"CAP REQ :{caps}", f"PASS {name}:{password}", f"NICK {name}", "USER u 0 * :R", "CAP END")
    irc.expect(rf" 001 {name} ")
    irc.expect(r" (376|422) ")
    return irc


def tags(line: str) -> dict[str, str]:
    if not line.startswith("@"):
        return {}
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in line[1:].split(" ", 1)[0].split(";"))


def untagged(line: str) -> str:
    return line.split(" ", 1)[1] if line.startswith("@") else line


def labelled_batch(irc: Irc, label: str) -> list[str]:
    """The lines of the labeled-response batch answering ``label`` (each checked to be
    in it), after its opening line; other lines before it are skipped."""
    start = irc.expect(r"^@label=" + re.escape(label) + r" :\S+ BATCH \+\S+ labeled-response$")
    ref = untagged(start).split()[2][1:]
    body = irc.until(rf"^:\S+ BATCH -{re.escape(ref)}$")[:-1]
    nested = {untagged(line).split()[2][1:] for line in body if " BATCH +" in line}
    for line in body:
        assert tags(line).get("batch") in {ref, *nested}, (line, body)
        assert "label" not in tags(line), line
    return body


def test_cap_ls_offers_labeled_response(gateway: Harness) -> None:
    irc = Irc(gateway)
    irc.send("CAP LS 302")
    offered = irc.expect(" CAP \\* LS ").split(" :", 1)[1].split()
    assert "labeled-response" in offered and "batch" in offered


def test_a_labelled_privmsg_gets_its_echo_labelled_and_the_recipient_no_label(gateway: Harness) -> None:
    ann, ben = login(gateway, "ann", "pw"), login(gateway, "ben", "pw")
    ann.send("@label=a1 PRIVMSG ben :hello ben", "@label=a2 PRIVMSG #lobby :hello all")
    echo = ann.expect(r"PRIVMSG ben :hello ben$")
    assert tags(echo)["label"] == "a1" and "msgid" in tags(echo)
    echo = ann.expect(r"PRIVMSG #lobby :hello all$")
    assert tags(echo)["label"] == "a2"
    for line in (ben.expect(r"PRIVMSG ben :hello ben$"), ben.expect(r"PRIVMSG #lobby :hello all$")):
        assert "label" not in tags(line) and "batch" not in tags(line)


def test_a_labelled_whois_comes_in_a_labeled_response_batch(gateway: Harness) -> None:
    ann = login(gateway, "ann", "pw")
    ben = login(gateway, "ben", "pw")  # noqa: F841 (kept open)
    ann.send("@label=w1 WHOIS ben")
    body = labelled_batch(ann, "w1")
    numerics = [untagged(line).split()[1] for line in body]
    assert numerics[0] == "311" and numerics[-1] == "318" and len(numerics) >= 3


def test_a_labelled_command_without_an_answer_gets_an_ack(gateway: Harness) -> None:
    ann = login(gateway, "ann", "pw", caps="batch labeled-response")  # no echo-message: a PRIVMSG has no answer
    ben = login(gateway, "ben", "pw")  # noqa: F841 (kept open)
    ann.send("@label=k1 PRIVMSG ben :quiet", "@label=k2 PONG :x", "PING :done")
    acks = [ann.expect(r" ACK$"), ann.expect(r" ACK$")]
    assert [tags(line)["label"] for line in acks] == ["k1", "k2"]
    assert "label" not in tags(ann.expect(r" PONG "))


def test_a_labelled_chathistory_nests_its_batch_in_the_labeled_response_batch(gateway: Harness) -> None:
    ann = login(gateway, "ann", "pw")
    echoes = said(ann, "#lobby", ["line one", "line two", "line three"])
    ann.send("@label=h1 CHATHISTORY LATEST #lobby * 10")
    body = labelled_batch(ann, "h1")
    outer = tags(body[0])["batch"]
    assert re.fullmatch(r":\S+ BATCH \+\S+ chathistory #lobby", untagged(body[0]))
    inner = untagged(body[0]).split()[2][1:]
    assert untagged(body[-1]).endswith(f"BATCH -{inner}") and tags(body[-1])["batch"] == outer
    lines = body[1:-1]
    assert [tags(line)["batch"] for line in lines] == [inner] * 3
    assert [tags(line)["msgid"] for line in lines] == [tags(e)["msgid"] for e in echoes]
    # a labelled refusal is one labelled line
    ann.send("@label=h2 CHATHISTORY LATEST #nowhere * 10")
    fail = ann.expect(r" FAIL CHATHISTORY ")
    assert tags(fail)["label"] == "h2"


def test_lines_for_other_reasons_stay_out_of_a_labelled_answer(gateway: Harness) -> None:
    """On PostgreSQL the history read is answered in a later loop pass, and ben's line
    may reach ann meanwhile; on both engines it is neither labelled nor in the batch."""
    ann, ben = login(gateway, "ann", "pw"), login(gateway, "ben", "pw")
    said(ann, "#lobby", ["an old line"])
    ann.send("@label=x1 CHATHISTORY LATEST #lobby * 10")
    ben.send("PRIVMSG ann :meanwhile")
    lines = ann.until(r"^:\S+ BATCH -r\d+$")
    if not any("meanwhile" in line for line in lines):
        lines.append(ann.expect(r"meanwhile$"))
    private = next(line for line in lines if line.endswith("meanwhile"))
    assert "label" not in tags(private) and "batch" not in tags(private)
    inside = lines[next(i for i, line in enumerate(lines) if "labeled-response" in line) :]
    assert not any("meanwhile" in line for line in inside[:-1] if line != private)
    assert sum(1 for line in inside if line.endswith(":an old line")) == 1


def test_a_labelled_pollchat_command_reading_the_history_is_one_batch(gateway: Harness) -> None:
    """``/history`` through ``*pollchat`` reads the store (a later pass on PostgreSQL):
    its NOTICEs come in the labeled-response batch, and the next command after it."""
    ann = login(gateway, "ann", "pw")
    said(ann, "#lobby", ["first words", "second words"])
    ann.send("@label=p1 PRIVMSG *pollchat :/history", "@label=p2 PING :next")
    body = labelled_batch(ann, "p1")
    assert [untagged(line).split(" :", 1)[1] for line in body if " PRIVMSG #lobby " in line] == ["first words", "second words"]
    assert tags(ann.expect(r" PONG ")).get("label") == "p2"


def test_a_label_costs_nothing_under_the_rate_limit(make_harness: Callable[..., Harness]) -> None:
    """The rate limit counts requests; the marks around a labelled message's are not
    counted, so six labelled PINGs fit a burst of six as six plain ones do."""
    harness = make_harness({"ann": "pw"}, irc=True, irc_port=0, clock=FakeClock(), rate_limit=1, rate_burst=6)
    ann = login(harness, "ann", "pw")
    harness.advance(10)  # the bucket full again after the login's requests
    ann.send(*(f"@label=p{i} PING :{i}" for i in range(6)))
    pongs = [ann.expect(r" PONG ") for _ in range(6)]
    assert [(tags(line)["label"], line.rsplit(" ", 1)[1]) for line in pongs] == [(f"p{i}", str(i)) for i in range(6)]


def test_a_labelled_quit_labels_the_last_line(gateway: Harness) -> None:
    ann = login(gateway, "ann", "pw")
    ann.send("@label=bye QUIT :see you")
    error = ann.expect(r"^@\S+ ERROR ")
    assert tags(error)["label"] == "bye"


def test_a_labelled_oper_is_answered_after_the_password_check(gateway: Harness) -> None:
    ann, root = login(gateway, "ann", "pw"), login(gateway, "root", "toor")
    root.send("@label=o1 OPER root toor", "@label=o2 OPER root wrong", "@label=o3 PING :after")
    ann.send("PRIVMSG root :while you wait")
    got = root.until(r" PONG ")
    answers = [line for line in got if re.search(r" (381|464) ", line)]
    assert [(tags(line)["label"], untagged(line).split()[1]) for line in answers] == [("o1", "381"), ("o2", "464")]
    assert tags(got[-1])["label"] == "o3"
    private = next((line for line in got if line.endswith("while you wait")), None) or root.expect("while you wait$")
    assert "label" not in tags(private)


def test_a_labelled_sasl_login_is_answered_after_the_password_check(gateway: Harness) -> None:
    irc = Irc(gateway)
    irc.send("CAP LS 302", "CAP REQ :sasl batch labeled-response", "NICK ann", "USER u 0 * :R", "AUTHENTICATE PLAIN")
    irc.expect(r"^AUTHENTICATE \+$")
    plain = base64.b64encode(b"\0ann\0pw").decode()
    irc.send(f"@label=s1 AUTHENTICATE {plain}")
    body = labelled_batch(irc, "s1")
    assert [untagged(line).split()[1] for line in body] == ["900", "903"]
    irc.send("@label=s2 CAP END")
    body = labelled_batch(irc, "s2")
    assert untagged(body[0]).split()[1] == "001"


def test_a_labelled_nick_change_is_its_own_nick_line(gateway: Harness) -> None:
    """Everyone sees a rename (a broadcast); the renamer's copy is also its answer."""
    dee = Irc(gateway)
    dee.send("CAP LS 302", f"CAP REQ :{CAPS}", "NICK dee", "USER u 0 * :R", "REGISTER * * secret-pw", "CAP END")
    dee.expect(r" 001 dee ")
    ben = login(gateway, "ben", "pw")
    dee.send("@label=n1 NICK deedee")
    line = dee.expect(r" NICK deedee$")
    assert tags(line)["label"] == "n1" and untagged(line).startswith(":dee!")
    assert "label" not in tags(ben.expect(r" NICK deedee$"))
    ben.send("@label=n2 NICK benny")  # a preconfigured account: refused, one labelled NOTICE
    assert tags(ben.expect(r" NOTICE ben :ben is a preconfigured account"))["label"] == "n2"


def test_a_labelled_line_that_is_not_utf8_gets_a_labelled_fail(gateway: Harness) -> None:
    ann = login(gateway, "ann", "pw")
    ann.sock.sendall(b"@label=u1 PRIVMSG #lobby :hi\xaa\r\n")
    fail = ann.expect(r" FAIL PRIVMSG INVALID_UTF8 ")
    assert tags(fail)["label"] == "u1"


def test_without_the_capability_a_label_is_ignored(gateway: Harness) -> None:
    ann = login(gateway, "ann", "pw", caps="batch echo-message")
    ann.send("@label=z PRIVMSG #lobby :a plain line")
    assert "label" not in tags(ann.expect(r"PRIVMSG #lobby :a plain line$"))


def test_a_privmsg_to_oneself_is_delivered_echoed_and_kept(gateway: Harness) -> None:
    ann = login(gateway, "ann", "pw", caps="batch draft/chathistory labeled-response message-tags server-time")
    ann.send("PRIVMSG ann :note one", "PING :one")
    got = [line for line in ann.until(r" PONG ") if " PRIVMSG " in line]
    assert len(got) == 1 and untagged(got[0]) == ":ann!ann@pollchat PRIVMSG ann :note one"
    kept = [got[0]]
    ann.send("CAP REQ echo-message")
    ann.expect(r" CAP ann ACK ")
    ann.send("PRIVMSG ann :note two", "PING :two")
    got = [line for line in ann.until(r" PONG ") if " PRIVMSG " in line]
    assert len(got) == 2 and got[0] == got[1]  # the delivery and the echo: one msgid, one time
    kept.append(got[0])
    ann.send("@label=self PRIVMSG ann :note three", "PING :three")
    got = [line for line in ann.until(r" PONG ") if " PRIVMSG " in line]
    echo = [line for line in got if tags(line).get("label") == "self"]
    delivery = [line for line in got if "label" not in tags(line)]
    assert len(echo) == 1 and len(delivery) == 1 and "@" + echo[0].split(";", 1)[1] == delivery[0]
    kept.append(delivery[0])
    assert ["@" + line for line in ann.history("CHATHISTORY LATEST ann * 10")] == kept


@pytest.mark.parametrize("command", ["NOTICE ann :a note to me", "TAGMSG ann"])
def test_a_labelled_notice_or_tagmsg_to_oneself_labels_the_echo_only(gateway: Harness, command: str) -> None:
    ann = login(gateway, "ann", "pw")
    ann.send(f"@label=me;+draft/react=x {command}", "PING :end")
    verb = command.split()[0]
    got = [line for line in ann.until(r" PONG ") if f" {verb} ann" in line]
    assert len(got) == 2, got
    assert sorted(tags(line).get("label", "") for line in got) == ["", "me"]
    assert all(tags(line)["+draft/react"] == "x" for line in got)


def test_the_line_protocol_still_refuses_a_message_to_oneself(gateway: Harness) -> None:
    client = gateway.login("ann", "pw")
    client.send(b"/msg ann hi\n")
    assert client.line() == "you cannot send a private message to yourself"
