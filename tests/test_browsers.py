"""The browser cookie limits and "this affects me too" count by: signing, the client's address
behind a proxy, and what the store keeps, on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from needsmap.store.users import open_user_store
from needsmap.voice import accounts, browsers, needs, retention
from needsmap.voice.needs import Location, NeedReport

KEY = "k" * 64
PLACE = Location(-2.3, 53.45, "E01006000", "E08000009")


def test_a_signed_token_verifies_and_any_change_is_refused() -> None:
    token = browsers.new_token()
    value = browsers.sign(KEY, token)
    assert browsers.verify(KEY, value) == token
    assert browsers.new_token() != token
    other = browsers.new_token()
    forged = [value[:-1] + ("0" if value[-1] != "0" else "1"),   # signature changed
              other + value[len(token):],                         # token swapped
              browsers.sign("another key", token), token, "", None, "a.b", value + ".x",
              token.upper() + value[len(token):]]
    assert [browsers.verify(KEY, v) for v in forged] == [None] * len(forged)


def test_the_store_keeps_a_hash_never_the_token() -> None:
    token = browsers.new_token()
    assert token not in browsers.identity_hash(token)
    assert browsers.identity_hash(token) != browsers.identity_hash(browsers.new_token())


def test_cookie_attributes_say_how_long_it_is_kept() -> None:
    assert browsers.cookie_attributes(365) == "Path=/; Max-Age=31536000; SameSite=Strict"


@pytest.mark.parametrize("peer, forwarded, proxies, expected", [
    ("203.0.113.9", [], (), "203.0.113.9"),                        # no proxy: the connection
    ("203.0.113.9", ["198.51.100.7"], (), "203.0.113.9"),          # header ignored untrusted
    (None, ["198.51.100.7"], (), None),                            # this machine, not trusted
    (None, ["198.51.100.7"], ("127.0.0.1",), "198.51.100.7"),      # proxy on this machine
    ("10.0.0.5", ["6.6.6.6, 198.51.100.7"], ("10.0.0.0/8",), "198.51.100.7"),  # spoofed left
    ("10.0.0.5", ["198.51.100.7, 10.0.0.9"], ("10.0.0.0/8",), "198.51.100.7"),  # two proxies
    ("10.0.0.5", ["2001:db8::1"], ("10.0.0.5",), "2001:db8::1"),
    ("10.0.0.5", [], ("10.0.0.5",), None),                         # proxy sent no header
    ("10.0.0.5", ["not an address"], ("10.0.0.5",), None),
])
def test_the_clients_address_behind_a_trusted_proxy(peer, forwarded, proxies, expected) -> None:
    assert browsers.client_address(peer, forwarded, proxies) == expected


def test_sign_in_failures_count_by_address_else_cookie() -> None:
    token = browsers.new_token()
    assert browsers.throttle_source("198.51.100.7", token) == "ip:198.51.100.7"
    assert browsers.throttle_source(None, token) == browsers.throttle_source(None, token)
    assert browsers.throttle_source(None, token) != browsers.throttle_source(None, browsers.new_token())
    assert browsers.throttle_source(None, None) == "browser:without-cookie"


def test_the_limit_message_says_why_for_a_browser_without_cookies() -> None:
    assert "You have sent several reports in the last 10 minutes" in needs.limit_message(600, "kept")
    refused = needs.limit_message(600, "refused")
    assert "does not keep this site's cookie" in refused and "You have sent" not in refused


def test_one_signing_key_for_every_process_and_restart(user_settings) -> None:
    first = open_user_store(user_settings)
    try:
        key = browsers.signing_key(first, user_settings)
        assert len(key) == 64 and browsers.signing_key(first, user_settings) == key
    finally:
        first.close()
    again = open_user_store(user_settings)  # a restart, or another process on PostgreSQL
    try:
        assert browsers.signing_key(again, user_settings) == key
        chosen = type(user_settings)(**{**user_settings.__dict__, "browser_key": "from-setting"})
        assert browsers.signing_key(again, chosen) == "from-setting"
    finally:
        again.close()


def test_support_counts_once_per_browser_and_reports_per_browser(user_store) -> None:
    mod = accounts.User("mod", "moderator")
    browser, neighbour = browsers.new_token(), browsers.new_token()
    ref = needs.submit(user_store, NeedReport("food", "No food bank nearby", PLACE), session_id=browser)
    needs.moderate(user_store, mod, "need", ref, "approve")
    # a reload keeps the cookie, so the same token comes back: counted once
    assert [needs.add_support(user_store, ref, session_id=browser) for _ in range(3)] == [
        True, False, False]
    assert needs.add_support(user_store, ref, session_id=neighbour) is True
    assert needs.approved_counts(user_store)[0][3] == 2
    stored = {r[0] for r in user_store.read().execute("SELECT session_hash FROM need_support").fetchall()}
    assert browser not in stored and needs.session_hash(browser) in stored

    needs.submit(user_store, NeedReport("youth", "Nothing for teenagers", PLACE), session_id=browser)
    assert needs.recent_reports(user_store, session_id=browser, window=600) == 2
    assert needs.recent_reports(user_store, session_id=neighbour, window=600) == 0
    a_day_ago = datetime.now() - timedelta(days=1)  # store times are UTC: a day is clear of it
    user_store.write(lambda con: con.execute("UPDATE needs SET created_at = ? WHERE id = ?",
                                             [a_day_ago, ref]))
    assert needs.recent_reports(user_store, session_id=browser, window=600) == 1


def test_retention_forgets_which_browser_past_the_cookies_life(user_store) -> None:
    mod = accounts.User("mod", "moderator")
    old, new = browsers.new_token(), browsers.new_token()
    ref = needs.submit(user_store, NeedReport("food", "Old need", PLACE), session_id=old)
    needs.moderate(user_store, mod, "need", ref, "approve")
    needs.add_support(user_store, ref, session_id=old)
    needs.add_support(user_store, ref, session_id=new)
    long_ago = datetime.now() - timedelta(days=400)
    user_store.write(lambda con: con.execute("UPDATE needs SET created_at = ?", [long_ago]))
    user_store.write(lambda con: con.execute(
        "UPDATE need_support SET created_at = ? WHERE session_hash = ?",
        [long_ago, needs.session_hash(old)]))
    retention.apply(user_store, retention.Rule(365, 90))
    cur = user_store.read()
    assert cur.execute("SELECT session_hash FROM needs").fetchall() == [(None,)]
    kept = sorted(r[0] for r in cur.execute("SELECT session_hash FROM need_support").fetchall())
    assert needs.session_hash(new) in kept and needs.session_hash(old) not in kept and len(kept) == 2
    assert needs.approved_counts(user_store)[0][3] == 2  # still counted, no longer traceable
    retention.apply(user_store, retention.Rule(365, 90))  # a second run changes nothing more
    assert sorted(r[0] for r in cur.execute("SELECT session_hash FROM need_support").fetchall()) == kept
