"""Verifies webhook deliveries with the PyPI `standardwebhooks` package (the Standard Webhooks
reference library), independently of the Rust signing code. Reads a JSON list of cases on stdin,
each {"secret", "id", "timestamp", "signature", "body"}; prints a JSON list with, for each case,
"ok" or the verifier's error message."""
import json
import sys

from standardwebhooks.webhooks import Webhook

results = []
for case in json.load(sys.stdin):
    headers = {
        "webhook-id": case["id"],
        "webhook-timestamp": case["timestamp"],
        "webhook-signature": case["signature"],
    }
    try:
        Webhook(case["secret"]).verify(case["body"], headers)
        results.append("ok")
    except Exception as e:  # noqa: BLE001 - the message is the result
        results.append(f"{type(e).__name__}: {e}")
print(json.dumps(results))
