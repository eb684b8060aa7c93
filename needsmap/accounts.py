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

from needsmap._errors import NeedsmapError
from needsmap.userstore import UserStore

ROLES = ("public", "community_group", "moderator", "commissioner")
# What each role may do; a higher role does not silently include a lower one's rights.
PERMISSIONS: dict[str, frozenset[str]] = {
    "public": frozenset({"report"}),
    "community_group": frozenset({"report", "annotate"}),
    "moderator": frozenset({"report", "annotate", "moderate", "see_exact"}),
    "commissioner": frozenset({"report", "annotate", "see_exact", "export", "decide"}),
}
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


def create_account(store: UserStore, username: str, password: str, role: str,
                   display_name: str = "", group_name: str | None = None) -> User:
    if role not in ROLES:
        raise NeedsmapError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if len(password) < 10:
        raise NeedsmapError("a password needs at least 10 characters")
    hashed = _hasher.hash(password)

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


def user_for_email(store: UserStore, email: str | None) -> User:
    """Role of an OIDC-signed-in user (accounts keyed by email); anyone else is public."""
    if not email:
        return PUBLIC
    row = store.read().execute(
        "SELECT role, display_name, group_name FROM accounts WHERE lower(username) = lower(?)", [email]
    ).fetchone()
    return User(email, row[0], row[1], row[2]) if row else User(email, "public", email)
