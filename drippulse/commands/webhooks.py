"""`drippulse webhooks list|create|delete|deliveries|resend`: signed notifications when jobs end
(docs/notifications.md)."""
from __future__ import annotations

import argparse
import itertools

from drippulse.cliutil import EXIT_OK, client_command, client_options, make_client, print_json

EVENTS = ("job.succeeded", "job.completed_with_errors", "job.failed", "job.cancelled")


@client_command
def cmd_list(args: argparse.Namespace) -> int:
    hooks = make_client(args).list_webhooks()
    if args.json:
        print_json({"items": hooks})
    elif not hooks:
        print("no webhooks")
    for hook in [] if args.json else hooks:
        state = "" if hook["active"] else "  (inactive)"
        print(f"{hook['id']}  {hook['url']}  {','.join(hook['events'])}{state}")
    return EXIT_OK


@client_command
def cmd_create(args: argparse.Namespace) -> int:
    hook = make_client(args).create_webhook(args.hook_url, args.events or list(EVENTS))
    if args.json:
        print_json(hook)
    else:
        print(f"webhook {hook['id']} → {hook['url']} ({', '.join(hook['events'])})")
        print(f"secret: {hook['secret']}")
        print("keep the secret now: it is not shown again")
    return EXIT_OK


@client_command
def cmd_delete(args: argparse.Namespace) -> int:
    make_client(args).delete_webhook(args.id)
    if not args.json:
        print(f"webhook {args.id} deleted")
    return EXIT_OK


@client_command
def cmd_deliveries(args: argparse.Namespace) -> int:
    attempts = list(itertools.islice(make_client(args).iter_webhook_deliveries(args.id),
                                     args.limit))
    if args.json:
        print_json({"items": attempts})
    elif not attempts:
        print("no deliveries yet")
    for a in [] if args.json else attempts:
        result = a["status_code"] if a["status_code"] is not None else a.get("error")
        print(f"{a['delivered_at']}  {a['delivery_id']}  {a['event']}  try {a['attempt']}  "
              f"{result}  {a['latency_ms']} ms  [{a['delivery_status']}]")
    return EXIT_OK


@client_command
def cmd_resend(args: argparse.Namespace) -> int:
    delivery = make_client(args).resend_delivery(args.id)
    if args.json:
        print_json(delivery)
    else:
        print(f"delivery {delivery['id']} ({delivery['event']}) queued again")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    common = client_options()
    parser = sub.add_parser("webhooks", help="signed HTTP notifications when jobs end")
    cmds = parser.add_subparsers(dest="webhooks_cmd", metavar="ACTION")
    cmds.required = True

    def action(name: str, handler, help_text: str, id_help: str | None = None):
        p = cmds.add_parser(name, parents=[common], help=help_text)
        if id_help:
            p.add_argument("id", help=id_help)
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(handler=handler)
        return p

    action("list", cmd_list, "the organization's webhooks")
    p = action("create", cmd_create, "subscribe a URL; prints the signing secret once")
    # not `url`: --url names the DripPulse server
    p.add_argument("hook_url", metavar="URL", help="https URL that receives the POSTs")
    p.add_argument("--events", nargs="+", choices=EVENTS, metavar="EVENT",
                   help=f"default: all of {', '.join(EVENTS)}")
    action("delete", cmd_delete, "delete a webhook and its deliveries", "webhook id")
    p = action("deliveries", cmd_deliveries, "recent delivery attempts, newest first",
               "webhook id")
    p.add_argument("--limit", type=int, default=50)
    action("resend", cmd_resend, "send a delivery again (same id and body)", "delivery id")
