"""`drippulse login` / `drippulse whoami`: check an API key and keep it for later commands."""
from __future__ import annotations

import argparse

from drippulse.cliutil import (
    EXIT_OK,
    client_command,
    client_options,
    make_client,
    print_json,
    save_token,
)


@client_command
def cmd_login(args: argparse.Namespace) -> int:
    if not args.token:
        raise SystemExit("drippulse login: --token KEY is required")
    client = make_client(args)
    me = client.whoami()  # refuse to save a key the server does not accept
    path = save_token(args.token, args.url)
    print(f"signed in to {client.base_url.rstrip('/')} as {me.get('organization_name')} "
          f"({me.get('organization_id')}); key saved to {path}")
    return EXIT_OK


@client_command
def cmd_whoami(args: argparse.Namespace) -> int:
    client = make_client(args)
    me = client.whoami()
    if args.json:
        print_json({**me, "url": client.base_url.rstrip("/")})
    else:
        print(f"{me.get('organization_name')} ({me.get('organization_id')}) as "
              f"{me.get('actor')} on {client.base_url.rstrip('/')}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    common = client_options()
    p = sub.add_parser("login", parents=[common],
                       help="check an API key and save it for the client commands")
    p.set_defaults(handler=cmd_login)
    p = sub.add_parser("whoami", parents=[common], help="the organization your key belongs to")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_whoami)
