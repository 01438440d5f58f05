#!/usr/bin/env python3
"""A webhook receiver anyone can run (Python 3 standard library only): verifies each delivery as
Standard Webhooks 1.0 says and prints the event.

    WEBHOOK_SECRET=whsec_... python3 docs/webhooks/receiver.py [PORT]   # default 9000

Verification, in order: the three headers are there; the timestamp is within 5 minutes of this
clock (a replayed old delivery is refused); one of the `v1,` signatures in `webhook-signature`
(two during a secret rotation) equals base64(HMAC-SHA256(secret bytes, "<id>.<timestamp>.<raw
body>")), compared in constant time. Only then is the body parsed. Duplicates (same
`webhook-id`, a retry or a redelivery) are acknowledged and not processed twice.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 5 * 60


def secret_bytes(secret):
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret, msg_id, timestamp, body):
    """`v1,<base64 HMAC-SHA256>` over `<msg_id>.<timestamp>.<body>` (body: the raw bytes)."""
    mac = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(secret, headers, body, now=None):
    """Returns None when the delivery is authentic, else why not."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    try:
        ts = int(timestamp)
    except ValueError:
        return "webhook-timestamp is not a number"
    now = int(time.time()) if now is None else now
    if abs(now - ts) > TOLERANCE_SECONDS:
        return "webhook-timestamp is more than 5 minutes away (a replay?)"
    expected = sign(secret, msg_id, timestamp, body)
    if any(hmac.compare_digest(expected, s) for s in signatures.split(" ")):
        return None
    return "no signature matches"


def self_test():
    # The Standard Webhooks specification's test vector.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body) == expected
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": expected}
    assert verify(secret, headers, body, now=1614265330) is None
    assert verify(secret, headers, body + b" ", now=1614265330) == "no signature matches"
    assert verify(secret, headers, body, now=1614265330 + 301) is not None


class Receiver(BaseHTTPRequestHandler):
    secret = ""
    seen = set()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        why = verify(self.secret, headers, body)
        if why:
            print(f"REFUSED ({why})", flush=True)
            self.send_response(401)
            self.end_headers()
            return
        event = json.loads(body)
        duplicate = event["id"] in self.seen
        self.seen.add(event["id"])
        data = event.get("data", {})
        if event["type"].startswith("claim."):
            # A claim event: the claim (its data also names the delivery's tracking_number).
            what = f"{data.get('claim_id')} {data.get('claim_status')}"
        else:
            what = data.get("tracking_number") or data.get("endpoint_id")
        print(f"{event['created_at']}  {event['type']:<28} {what}  v{data.get('version', '-')}"
              f"  {event['id']}{'  (duplicate, ignored)' if duplicate else ''}", flush=True)
        self.send_response(204)  # answer fast; do the work after (or in a queue)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    self_test()
    Receiver.secret = os.environ.get("WEBHOOK_SECRET", "")
    if not Receiver.secret.startswith("whsec_"):
        sys.exit("set WEBHOOK_SECRET to the secret POST /api/v1/webhook-endpoints returned (whsec_...)")
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    print(f"receiving on http://127.0.0.1:{port}/webhooks (signature check against WEBHOOK_SECRET)", flush=True)
    HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
