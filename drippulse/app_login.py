"""The login role of tenant connections (DRIPPULSE_APP_DATABASE_URL): a member of drippulse_app
and of nothing else, so a tenant connection can never SET ROLE to drippulse_maintenance or to
the migrating role, whatever SQL it runs.

Made over DATABASE_URL (the migrating role, which needs CREATEROLE). Idempotent: a role that
already exists is accepted only when it is already that narrow; it is never altered to fit, so
a name that another user relies on (or a typo for the migrating role) cannot be stripped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa
from psycopg import errors, sql

from shared.db import normalize_url
from shared.errors import BadRequest, Conflict

APP_ROLE = "drippulse_app"
SETTING = "DRIPPULSE_APP_DATABASE_URL"
# plain identifiers only: the name also goes into a URL, unquoted
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# names CREATE ROLE refuses (pg_*, public, none) or that SQL reads as a keyword, not a role
_RESERVED_PREFIX = "pg_"
_RESERVED = frozenset({"public", "none", "all", "current_user", "current_role", "session_user",
                       "system_user", "user"})
_WIDE = ("rolsuper", "rolbypassrls", "rolcreaterole", "rolcreatedb", "rolreplication")


@dataclass(frozen=True)
class AppLogin:
    role: str
    created: bool
    password_set: bool
    url: str  # the password, if any, shown as ***

    def as_dict(self) -> dict:
        return {"role": self.role, "created": self.created, "password_set": self.password_set,
                "setting": SETTING, "url": self.url}


def _conninfo(database_url: str) -> str:
    return sa.engine.make_url(normalize_url(database_url)).set(
        drivername="postgresql").render_as_string(hide_password=False)


def tenant_url(database_url: str, role: str, password: str | None) -> str:
    """DATABASE_URL with the login role's name; its password is never rendered."""
    return sa.engine.make_url(normalize_url(database_url)).set(
        username=role, password=password or None).render_as_string(hide_password=True)


def _refuse_wide(cur: psycopg.Cursor, role: str) -> bool:
    """True when `role` exists (and is narrow enough to keep); raise when it is wider."""
    row = cur.execute(f"SELECT oid, {', '.join(_WIDE)} FROM pg_roles WHERE rolname = %s",
                      (role,)).fetchone()
    if row is None:
        return False
    oid, *flags = row
    wide = [name.removeprefix("rol") for name, on in zip(_WIDE, flags, strict=True) if on]
    others = [r for (r,) in cur.execute(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "WHERE m.member = %s AND g.rolname <> %s ORDER BY 1", (oid, APP_ROLE))]
    owns = cur.execute("SELECT count(*) FROM pg_class WHERE relowner = %s", (oid,)).fetchone()[0]
    if wide or others or owns:
        raise Conflict(f"role {role} already exists and is more than a member of {APP_ROLE}; "
                       "choose another name (existing roles are never changed)",
                       {"attributes": wide, "member_of": others, "owned_relations": owns})
    return True


def _check_name(role: str) -> None:
    if not _NAME.match(role):
        raise BadRequest("the role name must be a lowercase identifier "
                         "(letters, digits, _; at most 63)", {"name": role})
    if role.startswith(_RESERVED_PREFIX) or role in _RESERVED:
        raise BadRequest(f"the role name {role} is reserved (pg_*, public, none, all, "
                         "current_user, session_user, …); choose another", {"name": role})


def ensure_app_login(database_url: str, role: str, password: str | None) -> AppLogin:
    """Create `role` (LOGIN, member of drippulse_app only) unless it exists narrow already;
    set its password when one is given (hashed here: the clear text never reaches the server
    or its statement log)."""
    _check_name(role)
    with psycopg.connect(_conninfo(database_url), autocommit=True) as conn, conn.cursor() as cur:
        me = cur.execute("SELECT session_user").fetchone()[0]
        if role in (me, APP_ROLE, "drippulse_maintenance"):
            raise Conflict(f"{role} is one of the roles the application itself uses",
                           {"name": role})
        if cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone() \
                is None:
            raise Conflict(f"role {APP_ROLE} does not exist yet: run `drippulse migrate` first")
        name = sql.Identifier(role)
        try:
            with conn.transaction():
                existed = _refuse_wide(cur, role)
                if existed:
                    cur.execute(sql.SQL("ALTER ROLE {} LOGIN").format(name))
                else:
                    cur.execute(sql.SQL("CREATE ROLE {} LOGIN INHERIT NOSUPERUSER NOBYPASSRLS "
                                        "NOCREATEDB NOCREATEROLE NOREPLICATION").format(name))
                cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(APP_ROLE), name))
                if password:
                    hashed = conn.pgconn.encrypt_password(password.encode(), role.encode())
                    cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        name, sql.Literal(hashed.decode())))
        except errors.InsufficientPrivilege as exc:
            raise Conflict(f"the DATABASE_URL role ({me}) may not create or grant roles: it "
                           f"needs CREATEROLE and admin rights on {APP_ROLE}",
                           {"postgres": str(exc).strip()}) from exc
        except errors.DuplicateObject as exc:  # made by a concurrent run between check and create
            raise Conflict(f"role {role} was created concurrently; run the command again") from exc
        except (psycopg.ProgrammingError, psycopg.DataError) as exc:  # ReservedName, SyntaxError…
            raise BadRequest(f"Postgres refused role {role}: "
                             f"{exc.diag.message_primary or type(exc).__name__}",
                             {"name": role, "postgres": str(exc).strip()}) from exc
    return AppLogin(role, not existed, bool(password), tenant_url(database_url, role, password))
