"""The Maildir both reference mail servers share: durable delivery, stable keys, an exclusive lock."""

from __future__ import annotations

import os
import re

import pytest

from postel.protocols.mail.maildir import MailStore, Maildir, MaildropLocked, UnknownMessage
from postel.protocols.mail.samples import SAMPLE_MESSAGES, seed


def test_delivery_is_visible_only_whole_and_in_order(tmp_path):
    box = Maildir(tmp_path / "box")
    keys = [box.deliver(b"message %d\r\n" % i) for i in range(30)]
    assert box.keys() == keys
    assert [box.read(k) for k in keys] == [b"message %d\r\n" % i for i in range(30)]
    assert os.listdir(tmp_path / "box" / "tmp") == []
    assert box.size(keys[3]) == len(b"message 3\r\n")


def test_keys_fit_the_pop3_unique_id_grammar(tmp_path):
    # RFC 1939 7: "The unique-id of a message ... consists of 1 to 70 characters in the range 0x21 to 0x7E"
    box = Maildir(tmp_path / "box")
    key = box.deliver(b"x\r\n")
    assert re.fullmatch(r"[\x21-\x7e]{1,70}", key), key


def test_a_message_moved_to_cur_keeps_its_key(tmp_path):
    box = Maildir(tmp_path / "box")
    key = box.deliver(b"seen\r\n")
    os.rename(tmp_path / "box" / "new" / key, tmp_path / "box" / "cur" / f"{key}:2,S")
    assert box.keys() == [key]
    assert box.read(key) == b"seen\r\n"


def test_remove_is_idempotent_and_unknown_keys_raise(tmp_path):
    box = Maildir(tmp_path / "box")
    key = box.deliver(b"x\r\n")
    box.remove(key)
    box.remove(key)
    assert box.keys() == []
    with pytest.raises(UnknownMessage):
        box.read(key)


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    box = Maildir(tmp_path / "box")

    def broken_fsync(fd):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        box.deliver(b"lost\r\n")
    monkeypatch.undo()
    assert box.keys() == [] and os.listdir(tmp_path / "box" / "tmp") == []


def test_the_lock_excludes_a_second_session_until_released(tmp_path):
    box = Maildir(tmp_path / "box")
    first = box.lock()
    with pytest.raises(MaildropLocked):
        box.lock()
    first.release()
    with box.lock() as again:
        assert again.held
    assert not again.held


def test_the_store_tells_local_unknown_and_foreign_recipients_apart(tmp_path):
    store = MailStore(tmp_path, domains=("Postel.Test",), users={"postel": "pw"})
    assert store.accepts(b"postel@postel.test") == "local"
    assert store.accepts(b"postel@POSTEL.TEST") == "local"
    assert store.accepts(b"nobody@postel.test") == "unknown-user"
    assert store.accepts(b"postel@example.com") == "foreign"
    # RFC 5321 4.5.1: postmaster must be accepted, with or without the domain.
    assert store.mailbox_for(b"PostMaster@postel.test") == "postel"
    assert store.mailbox_for(b"Postmaster") == "postel"
    assert store.check_password("postel", "pw") and not store.check_password("postel", "pW")
    assert not store.check_password("nobody", "pw")


def test_mailbox_names_must_be_plain_local_parts(tmp_path):
    with pytest.raises(ValueError):
        MailStore(tmp_path, users={"../etc": "pw"})


def test_the_samples_cover_what_the_pop3_suites_need(tmp_path):
    box = Maildir(tmp_path / "box")
    keys = seed(box)
    bodies = [box.read(k).split(b"\r\n\r\n", 1)[1] for k in keys]
    assert any(b"\r\n." in b"\r\n" + body for body in bodies)  # a line starting with "."
    assert b"" in bodies  # an empty body
    assert any(len(line) == 998 for body in bodies for line in body.split(b"\r\n"))
    assert any(max(body, default=0) > 0x7F for body in bodies)
    assert all(b"\n" not in message.replace(b"\r\n", b"") for message in SAMPLE_MESSAGES)


def test_open_finds_a_message_that_moved_to_cur(tmp_path):
    box = Maildir(tmp_path / "box")
    key = box.deliver(b"chunked\r\n")
    box.keys()
    os.rename(tmp_path / "box" / "new" / key, tmp_path / "box" / "cur" / f"{key}:2,S")
    with box.open(key) as file:
        assert file.read() == b"chunked\r\n"
    box.remove(key)
    with pytest.raises(UnknownMessage):
        box.open(key)
