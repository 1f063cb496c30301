"""Verifies a webhook pixq delivered with the official Standard Webhooks package.

Usage: verify.py DELIVERY.json, where the file holds {"secret", "headers", "body"} as a
receiver got them. Exits 0 when the signature verifies and a tampered copy does not.
"""

import json
import sys

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        delivery = json.load(f)
    hook = Webhook(delivery["secret"])
    event = hook.verify(delivery["body"], delivery["headers"])
    if event.get("type") not in ("job.finished", "batch.finished"):
        print(f"unexpected event type: {event.get('type')!r}", file=sys.stderr)
        return 1
    try:
        hook.verify(delivery["body"] + " ", delivery["headers"])
    except WebhookVerificationError:
        pass
    else:
        print("a tampered body verified", file=sys.stderr)
        return 1
    print(f"verified {delivery['headers']['webhook-id']} ({event['type']} of {event['data']['id']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
