"""Telling browsers apart without knowing who anyone is: a random token in a signed cookie.

"This affects me too", the per-person report limit and sign-in throttling count by something a
reload does not reset. A browser session ends at every reload; a cookie does not. The cookie
holds a random token (never derived from an address or anything else about the person) and an
HMAC of it, so a forged or altered cookie is refused without asking the store. The store keeps
only a hash of the token (``identity_hash``).

The signing key is ``NEEDSMAP_BROWSER_KEY`` when set, else one generated once and kept in the
user store (table ``app_keys``), so it survives restarts and every app process sharing a
PostgreSQL store signs and checks alike.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from datetime import datetime, timezone

from needsmap.config import Settings
from needsmap.store.users import Connection, UserStore

COOKIE = "needsmap_browser"
KEY_NAME = "browser_cookie"
_TOKEN_BYTES = 16
_SIGNATURE_CHARS = 32


def new_token() -> str:
    """A fresh random token: 128 bits, nothing about the person in it."""
    return secrets.token_hex(_TOKEN_BYTES)


def _signature(key: str, token: str) -> str:
    return hmac.new(key.encode(), f"browser:{token}".encode(), hashlib.sha256).hexdigest()[:_SIGNATURE_CHARS]


def sign(key: str, token: str) -> str:
    """The cookie value for ``token``: ``token.signature``."""
    return f"{token}.{_signature(key, token)}"


def verify(key: str, value: str | None) -> str | None:
    """The token a cookie value carries when its signature is right, else None."""
    if not value or value.count(".") != 1:
        return None
    token, signature = value.split(".")
    if len(token) != 2 * _TOKEN_BYTES or any(c not in "0123456789abcdef" for c in token):
        return None
    return token if hmac.compare_digest(signature, _signature(key, token)) else None


def identity_hash(token: str) -> str:
    """What the store keeps for a browser: a hash of its token, never the token itself."""
    return hashlib.sha256(f"needsmap-browser:{token}".encode()).hexdigest()[:32]


def cookie_attributes(days: int) -> str:
    """The attributes the cookie is set with: the whole site, kept ``days`` days, never sent
    with requests from other sites (the page adds ``Secure`` when served over HTTPS)."""
    return f"Path=/; Max-Age={days * 86_400}; SameSite=Strict"


def signing_key(store: UserStore, settings: Settings) -> str:
    """The key cookies are signed with: the setting, else the one kept in the store (made by
    the first process that asks; every other process reads that one)."""
    if settings.browser_key:
        return settings.browser_key
    candidate = secrets.token_hex(32)

    def write(con: Connection) -> str:
        con.execute("INSERT INTO app_keys (name, value, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO NOTHING",
                    [KEY_NAME, candidate, datetime.now(timezone.utc).replace(tzinfo=None)])
        return con.execute("SELECT value FROM app_keys WHERE name = ?", [KEY_NAME]).fetchone()[0]

    return store.write(write, idempotent=True)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: str, proxies: tuple[str, ...]) -> bool:
    parsed = _address(address)
    if parsed is None:
        return False
    for proxy in proxies:
        try:
            if parsed in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(peer: str | None, forwarded_for: list[str], proxies: tuple[str, ...]) -> str | None:
    """The client's address: the connection's own, unless it comes from a trusted proxy; then
    the nearest ``X-Forwarded-For`` entry that is not a trusted proxy (entries further left
    were written by the client and could be anything). None when no address is known.

    ``peer`` is None when the connection comes from this machine (Streamlit's way of saying
    127.0.0.1 or ::1), so a proxy on the same machine is trusted by naming 127.0.0.1.
    """
    peer = peer or "127.0.0.1"
    if not _trusted(peer, proxies):
        return None if peer in ("127.0.0.1", "::1") else peer
    hops = [h.strip() for line in forwarded_for for h in line.split(",") if h.strip()]
    for hop in reversed(hops):
        if _address(hop) is None:
            return None  # a garbled header: no address, rather than a made-up one
        if not _trusted(hop, proxies):
            return str(_address(hop))
    return None


def throttle_source(address: str | None, browser: str | None) -> str:
    """What sign-in failures count against: the client's address when known, else the browser's
    cookie; browsers that keep no cookie share one count (they could otherwise reload to start
    afresh, and a browser that keeps cookies never shares it)."""
    if address:
        return f"ip:{address}"
    return f"browser:{identity_hash(browser)}" if browser else "browser:without-cookie"
