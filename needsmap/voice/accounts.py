"""Roles and local accounts; every page and action checks the role on the server side.

Deployments with an identity provider use Streamlit's ``st.login`` (OIDC) and map the signed-in
email to a role in the ``accounts`` table; small deployments and the tests use local passwords,
hashed with Argon2 (argon2-cffi).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from needsmap.errors import NeedsmapError
from needsmap.store.users import UserStore

ROLES = ("public", "community_group", "moderator", "commissioner")
# What each role may do; a higher role does not silently include a lower one's rights.
# "facilitate" is bulk entry of needs (and priority ballots) gathered at a workshop or on paper;
# "run_rounds" is opening and closing priorities rounds and keeping their results as weightings.
PERMISSIONS: dict[str, frozenset[str]] = {
    "public": frozenset({"report"}),
    "community_group": frozenset({"report", "annotate", "facilitate"}),
    "moderator": frozenset({"report", "annotate", "facilitate", "moderate", "see_exact",
                            "run_rounds"}),
    "commissioner": frozenset({"report", "annotate", "facilitate", "see_exact", "export", "decide",
                               "run_rounds"}),
}
ROLE_LABELS = {"public": "resident", "community_group": "community group",
               "moderator": "moderator", "commissioner": "commissioner or analyst"}
# Stored instead of a hash for accounts that sign in only through the identity provider (OIDC):
# Argon2 cannot verify it, so no password opens them.
NO_PASSWORD = "!single-sign-on-only"
_hasher = PasswordHasher()


class PermissionDenied(NeedsmapError):
    """The signed-in user's role does not allow this action."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    display_name: str = ""
    group_name: str | None = None

    def can(self, action: str) -> bool:
        return action in PERMISSIONS.get(self.role, frozenset())


PUBLIC = User("public", "public", "Resident")


def require(user: User | None, action: str) -> User:
    """Raise unless ``user`` may do ``action``; call at the start of every protected action."""
    user = user or PUBLIC
    if not user.can(action):
        raise PermissionDenied(f"{user.display_name or user.username} ({user.role}) may not {action}")
    return user


def create_account(store: UserStore, username: str, password: str | None, role: str,
                   display_name: str = "", group_name: str | None = None) -> User:
    """Add or update a local account; ``password=None`` makes a single-sign-on-only account
    (its username is the email address the identity provider reports)."""
    if role not in ROLES:
        raise NeedsmapError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    username = username.strip()
    if not username or len(username) > 200:
        raise NeedsmapError("a username needs 1 to 200 characters")
    if password is not None and len(password) < 10:
        raise NeedsmapError("a password needs at least 10 characters")
    hashed = NO_PASSWORD if password is None else _hasher.hash(password)

    def write(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            "INSERT INTO accounts (username, password_hash, role, display_name, group_name, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, "
            "role = excluded.role, display_name = excluded.display_name, group_name = excluded.group_name",
            [username, hashed, role, display_name or username, group_name,
             datetime.now(timezone.utc).replace(tzinfo=None)],
        )

    store.write(write, idempotent=True)  # an upsert: the same account however often it runs
    return User(username, role, display_name or username, group_name)


def authenticate(store: UserStore, username: str, password: str) -> User | None:
    """The user if the password matches, else None (the same answer for an unknown name)."""
    row = store.read().execute(
        "SELECT password_hash, role, display_name, group_name FROM accounts WHERE username = ?",
        [username],
    ).fetchone()
    if row is None:
        _hasher.hash(password)  # spend the same time, so a wrong name is not told apart
        return None
    try:
        _hasher.verify(row[0], password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    return User(username, row[1], row[2], row[3])


def account(store: UserStore, username: str) -> User | None:
    """The account as it is now (a signed-in session re-reads its role on every page)."""
    row = store.read().execute(
        "SELECT role, display_name, group_name FROM accounts WHERE username = ?", [username]
    ).fetchone()
    return User(username, row[0], row[1], row[2]) if row else None


def list_accounts(store: UserStore) -> list[tuple[str, str, str, str | None, bool]]:
    """(username, role, display name, group, signs in with a password) for every account."""
    rows = store.read().execute(
        "SELECT username, role, display_name, group_name, password_hash FROM accounts ORDER BY username"
    ).fetchall()
    return [(u, r, d, g, h != NO_PASSWORD) for u, r, d, g, h in rows]


def remove_account(store: UserStore, username: str) -> bool:
    """Delete an account; False if there was none. Its past moderation log entries stay."""
    def write(con: duckdb.DuckDBPyConnection) -> bool:
        return bool(con.execute("DELETE FROM accounts WHERE username = ? RETURNING username",
                                [username]).fetchall())

    return store.write(write)


def user_for_email(store: UserStore, email: str | None) -> User:
    """Role of an OIDC-signed-in user (accounts keyed by email); anyone else is public."""
    if not email:
        return PUBLIC
    row = store.read().execute(
        "SELECT role, display_name, group_name FROM accounts WHERE lower(username) = lower(?)", [email]
    ).fetchone()
    return User(email, row[0], row[1], row[2]) if row else User(email, "public", email)
