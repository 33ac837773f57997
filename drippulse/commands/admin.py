"""Tenant administration: organizations, API keys, dashboard users, migrations, DB roles."""
from __future__ import annotations

import argparse
import json
import os
import uuid

from drippulse.app_login import ensure_app_login
from drippulse.services import resolved_settings
from shared import auth, db, migrate
from shared.services import organizations


def _print(obj: dict) -> None:
    print(json.dumps(obj, indent=2))


def cmd_migrate(_args: argparse.Namespace) -> int:
    settings = resolved_settings()
    migrate.upgrade(settings.database_url)
    print("database schema is up to date")
    return 0


def cmd_org_create(args: argparse.Namespace) -> int:
    resolved_settings()
    _print(organizations.create_organization(args.name, args.admin_email, args.admin_password))
    return 0


def cmd_api_key_create(args: argparse.Namespace) -> int:
    resolved_settings()
    org = uuid.UUID(args.org)
    if organizations.get_organization(org) is None:
        raise SystemExit(f"no organization {org}")
    with db.transaction() as conn:
        key = auth.create_api_key(conn, org, args.name)
    _print({"organization_id": str(org), "api_key": key})
    return 0


def cmd_api_key_revoke(args: argparse.Namespace) -> int:
    resolved_settings()
    prefix = args.key.split("_")[1] if args.key.startswith("dp_") else args.key
    with db.transaction() as conn:
        revoked = auth.revoke_api_key(conn, uuid.UUID(args.org), prefix)
    _print({"revoked": revoked, "prefix": prefix})
    return 0 if revoked else 1


def cmd_user_create(args: argparse.Namespace) -> int:
    resolved_settings()
    org = uuid.UUID(args.org)
    if organizations.get_organization(org) is None:
        raise SystemExit(f"no organization {org}")
    with db.transaction() as conn:
        user_id = organizations.create_user(conn, org, args.email, args.password, args.name)
    _print({"user_id": str(user_id), "organization_id": str(org), "email": args.email})
    return 0


def cmd_db_create_app_login(args: argparse.Namespace) -> int:
    settings = resolved_settings()
    password = None
    if args.password_env:
        # read from the environment, never from argv (visible in ps and shell history)
        password = os.environ.get(args.password_env)
        if not password:
            raise SystemExit(f"drippulse: ${args.password_env} is unset or empty")
    _print(ensure_app_login(settings.database_url, args.name, password).as_dict())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    p.set_defaults(handler=cmd_migrate)

    dbs = sub.add_parser("db", help="database roles").add_subparsers(dest="db_cmd")
    dbs.required = True
    p = dbs.add_parser("create-app-login",
                       help="create a login role that is only in drippulse_app (idempotent); "
                            "prints the DRIPPULSE_APP_DATABASE_URL to set")
    p.add_argument("name", help="role name: lowercase letters, digits, _")
    p.add_argument("--password-env", metavar="VAR",
                   help="environment variable holding the role's password (not echoed)")
    p.set_defaults(handler=cmd_db_create_app_login)

    org = sub.add_parser("org", help="manage organizations").add_subparsers(dest="org_cmd")
    org.required = True
    p = org.add_parser("create", help="create an organization; prints its id and an API key")
    p.add_argument("name")
    p.add_argument("--admin-email")
    p.add_argument("--admin-password")
    p.set_defaults(handler=cmd_org_create)

    keys = sub.add_parser("api-key", help="manage API keys").add_subparsers(dest="key_cmd")
    keys.required = True
    p = keys.add_parser("create", help="create an API key (shown once)")
    p.add_argument("--org", required=True, help="organization id")
    p.add_argument("--name", default="default")
    p.set_defaults(handler=cmd_api_key_create)
    p = keys.add_parser("revoke", help="revoke an API key at once")
    p.add_argument("--org", required=True)
    p.add_argument("key", help="the key or its lookup prefix")
    p.set_defaults(handler=cmd_api_key_revoke)

    users = sub.add_parser("user", help="manage dashboard users").add_subparsers(dest="user_cmd")
    users.required = True
    p = users.add_parser("create", help="create a dashboard user")
    p.add_argument("--org", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--name")
    p.set_defaults(handler=cmd_user_create)
