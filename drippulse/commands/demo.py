"""`drippulse demo`: a sample organization to try the dashboard and the client commands on."""
from __future__ import annotations

import argparse
import gzip
import secrets
import sys

from drippulse.cliutil import DEFAULT_URL, print_json, save_token
from drippulse.services import resolved_settings
from shared.config import get_settings


def cmd_demo(args: argparse.Namespace) -> int:
    from shared.services import demo

    if args.bundle_out:
        # a file only: no database needed, handy for `drippulse import`
        opener = gzip.open if args.bundle_out.endswith(".gz") else open
        with opener(args.bundle_out, "wt", encoding="utf-8") as out:
            counts = demo.write_sample_bundle(out, args.scale)
        print(f"wrote {args.bundle_out}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()),
              file=sys.stderr)
        return 0
    resolved_settings()
    from shared.services import organizations

    suffix = secrets.token_hex(3)
    email = args.admin_email or f"admin+{suffix}@demo.example.com"
    password = args.admin_password or secrets.token_urlsafe(12)
    org = organizations.create_organization(args.name or f"Demo Co {suffix}", email, password)
    counts = demo.load_sample(org["organization_id"], args.scale)
    saved = None if args.no_save else save_token(org["api_key"])
    url = get_settings().cli_url or DEFAULT_URL
    result = {"organization_id": org["organization_id"], "name": org["name"],
              "admin_email": email, "admin_password": password, "api_key": org["api_key"],
              "records": counts, "token_file": str(saved) if saved else None, "url": url}
    if args.json:
        print_json(result)
        return 0
    print(f"Created organization {org['name']} ({org['organization_id']})")
    print("  " + ", ".join(f"{n} {plural}" for plural, n in counts.items()))
    print()
    print(f"Sign in:   {url}/login  as {email} / {password}")
    print(f"API key:   {org['api_key']}  (shown once)")
    if saved:
        print(f"           saved to {saved}; `drippulse import/export/jobs` in this "
              f"directory use it")
    print()
    print("Try:")
    print(f"  curl -H 'Authorization: Bearer {org['api_key']}' {url}/api/v1/crm/accounts")
    print("  drippulse export -o backup.json")
    print("  drippulse import backup.json")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="create a sample organization (or write a sample bundle)",
                       description="Create an organization with sample accounts, contacts, "
                       "opportunities across the default pipeline, leads and activities; print "
                       "how to sign in and its API key, and save the key for the client "
                       "commands. With --bundle-out, only write a sample bundle file.")
    p.add_argument("--name", help="organization name (default: Demo Co <random>)")
    p.add_argument("--admin-email")
    p.add_argument("--admin-password")
    p.add_argument("--scale", type=int, default=1, help="multiply the sample's size")
    p.add_argument("--bundle-out", metavar="FILE",
                   help="write a sample bundle (.json or .json.gz) instead; touches no database")
    p.add_argument("--no-save", action="store_true", help="do not save the API key")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_demo)
