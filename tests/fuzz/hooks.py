"""Schemathesis hooks for fuzzing the partner API as an authenticated partner.

Loaded by scripts/fuzz through SCHEMATHESIS_HOOKS. Reads the partner's credentials kit (the JSON
printed by `opsctl partner onboard --json`) from the file named by FUZZ_KIT.

- Every /api/v1 request carries a real bearer token, obtained with the OAuth 2.0 client
  credentials flow of the kit (renewed by schemathesis every 300 s; tokens live 3600 s).
- Write bodies get the signature the contract defines, so fuzzed data reaches the checks that
  come after the signature (products, premiums, state machine) instead of stopping at
  403 invalid_signature:
  signature = lowercase_hex(MD5(api_token_key + tracking_number + premium_amount)), with the
  body's premium_amount (Submit) or 15000, the premium of the document's example delivery
  TN001 (Insert Tracking Detail, Cancel).
"""

import base64
import hashlib
import json
import os
import urllib.parse
import urllib.request

import schemathesis

with open(os.environ["FUZZ_KIT"], encoding="utf-8") as f:
    KIT = json.load(f)

# The premium of the deliveries the document's examples create (TN001, item value 3000000).
EXAMPLE_PREMIUM = 15000


@schemathesis.auth().skip_for(path="/oauth/token")
class ClientCredentials:
    def get(self, case, ctx):
        basic = base64.b64encode(
            f"{KIT['client_id']}:{KIT['client_secret']}".encode()
        ).decode()
        req = urllib.request.Request(
            KIT["token_url"],
            data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)["access_token"]

    def set(self, case, data, ctx):
        case.headers = dict(case.headers or {})
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def map_body(ctx, body):
    if not isinstance(body, dict) or "signature" not in body:
        return body
    tn = body.get("tracking_number")
    premium = body.get("premium_amount", EXAMPLE_PREMIUM)
    if isinstance(tn, str) and isinstance(premium, int) and not isinstance(premium, bool) and premium >= 0:
        text = f"{KIT['api_token_key']}{tn}{premium}"
        body = dict(body)
        body["signature"] = hashlib.md5(text.encode("utf-8", "surrogatepass")).hexdigest()
    return body
