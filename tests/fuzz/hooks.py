"""Schemathesis hooks: fuzz the partner API as an authenticated partner, deep enough to reach
the code behind the signature and the lookups.

Loaded by scripts/fuzz through SCHEMATHESIS_HOOKS. Reads the partner's credentials kit (the JSON
printed by `opsctl partner onboard --json`) from the file named by FUZZ_KIT.

- Authentication: every /api/v1 request carries a real bearer token of the kit's client
  (OAuth 2.0 client credentials; schemathesis renews it every 300 s, tokens live 3600 s), and
  the token endpoint itself is called with the kit's HTTP Basic credentials, so the fuzzer
  explores scopes and form parameters instead of stopping at 401.
- Real deliveries: before the run, two deliveries are insured with the document's Submit
  example (tracking numbers TN001 and FUZZ-<run>), both with premium 15000. About half of the
  generated tracking numbers and policy ids (chosen by a hash of the generated case, so a seed
  replays the same run) are replaced by these real ones, so Insert Tracking Detail walks the
  state machine (on FUZZ-<run>), Cancel cancels (TN001), and the reads find something.
- Products and quotes: about half of the generated product codes in paths are the real
  `ahasme`, and about half of the Submit bodies that carry a `quote_id` carry a real quote
  (made before the run: ahasme, item value 3000000, premium 15000) with its product, item
  value and premium, so Submit's quote path is walked to the end, not only to `unknown_quote`.
- Signatures: every write body that has a `signature` gets the right one, as the contract
  defines it: lowercase_hex(MD5(api_token_key + tracking_number + premium_amount)), with the
  body's premium_amount (Submit) or 15000, the premium of the real deliveries (tracking, cancel).
- Claims (issue 13): a third delivery (FUZZ-CLAIM-<run>) is tracked to `fail` and claimed on
  (claimed_amount 1500000). About half of the generated claim ids are replaced by that claim's,
  and half of the filings by that delivery's tracking number and policy id; claim writes are
  signed as the contract says: MD5(api_token_key + tracking_number + claimed_amount), with the
  body's values (filing) or the seeded claim's (documents, notes, withdraw).
- Statistics: the status codes answered per operation are written to
  target/fuzz/statistics.json (FUZZ_STATS) at the end of the run.
"""

import atexit
import base64
import collections
import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

import schemathesis

with open(os.environ["FUZZ_KIT"], encoding="utf-8") as f:
    KIT = json.load(f)

API = KIT["api_base_url"].rstrip("/")
PREMIUM = 15000
STATS_PATH = os.environ.get("FUZZ_STATS", "target/fuzz/statistics.json")
BASIC = "Basic " + base64.b64encode(
    f"{KIT['client_id']}:{KIT['client_secret']}".encode()
).decode()


def _signature(tracking_number, premium):
    text = f"{KIT['api_token_key']}{tracking_number}{premium}"
    return hashlib.md5(text.encode("utf-8", "surrogatepass")).hexdigest()


def _call(method, url, body=None, headers=None):
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def _token():
    req = urllib.request.Request(
        KIT["token_url"],
        data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
        headers={"Authorization": BASIC, "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)["access_token"]


def _seed():
    """Insure the real deliveries; returns {tracking_number: policy_id}."""
    token = _token()
    known = {}
    for tn in ["TN001", f"FUZZ-{int(time.time() * 1000)}"]:
        body = {
            "tracking_number": tn,
            "product_code": "ahasme",
            "customer_name": "Cong ty ABC",
            "customer_phone": "+84 901 234 567",
            "pickup_address": "1 Le Loi, District 1, Ho Chi Minh City",
            "drop_up_address": "2 Trang Tien, Hoan Kiem, Ha Noi",
            "type_of_goods": "electronics",
            "cod_amount": 0,
            "item_value": 3000000,
            "premium_amount": PREMIUM,
            "customer_email": "shop@abc.example.vn",
            "order_created_time": "2022-04-06T06:05:00.528Z",
            "goods_description": "Mobile phone",
            "good_quantity": 1,
            "signature": _signature(tn, PREMIUM),
        }
        status, reply = _call(
            "POST", f"{API}/sme-deliveries", body, {"Authorization": f"Bearer {token}"}
        )
        if status in (200, 201):
            known[tn] = reply["policy_id"]
        elif status == 409:
            # TN001 submitted earlier with another body (by an earlier run's fuzzing): read it.
            status, reply = _call(
                "GET", f"{API}/sme-deliveries/{tn}", headers={"Authorization": f"Bearer {token}"}
            )
            if status == 200 and reply["policy"]["premium_amount"] == PREMIUM:
                known[tn] = reply["policy"]["policy_id"]
        else:
            raise RuntimeError(f"seeding {tn}: {status} {reply}")
    return known


KNOWN = _seed()
KNOWN_ITEMS = sorted(KNOWN.items())
CLAIM_AMOUNT = 1500000


def _seed_claim():
    """A failed delivery and a claim on it; returns (tracking_number, policy_id, claim_id)."""
    token = _token()
    auth = {"Authorization": f"Bearer {token}"}
    tn = f"FUZZ-CLAIM-{int(time.time() * 1000)}"
    body = {
        "tracking_number": tn, "product_code": "ahasme", "customer_name": "Cong ty ABC",
        "customer_phone": "+84 901 234 567", "pickup_address": "1 Le Loi", "drop_up_address": "2 Trang Tien",
        "type_of_goods": "electronics", "cod_amount": 0, "item_value": 3000000, "premium_amount": PREMIUM,
        "order_created_time": "2022-04-06T06:05:00.528Z", "goods_description": "Mobile phone",
        "good_quantity": 1, "signature": _signature(tn, PREMIUM),
    }
    status, reply = _call("POST", f"{API}/sme-deliveries", body, auth)
    if status != 201:
        raise RuntimeError(f"seeding {tn}: {status} {reply}")
    policy_id = reply["policy_id"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    track = {"tracking_number": tn, "delivery_status": "fail",
             "tracking_detail": [{"tracking_time": now, "tracking_status": "fail"}],
             "signature": _signature(tn, PREMIUM)}
    status, reply = _call("POST", f"{API}/tracking-details", track, auth)
    if status != 200:
        raise RuntimeError(f"seeding the failure of {tn}: {status} {reply}")
    claim = {"tracking_number": tn, "policy_id": policy_id, "claim_type": "loss",
             "claimed_amount": CLAIM_AMOUNT, "incident_time": now, "description": "Lost",
             "claimant_name": "Shop", "claimant_phone": "0901234567",
             "signature": _signature(tn, CLAIM_AMOUNT)}
    status, reply = _call("POST", f"{API}/claims", claim, auth)
    if status != 201:
        raise RuntimeError(f"seeding a claim on {tn}: {status} {reply}")
    return tn, policy_id, reply["claim_id"]


CLAIM_TN, CLAIM_POLICY, CLAIM_ID = _seed_claim()


def _seed_webhooks():
    """A real webhook endpoint and the events of the seeded deliveries (webhooks, issue 14)."""
    auth = {"Authorization": f"Bearer {_token()}"}
    endpoint = None
    status, reply = _call("POST", f"{API}/webhook-endpoints", {"url": "http://127.0.0.1:9/fuzz"}, auth)
    if status == 201:
        endpoint = reply["id"]
    else:
        status, reply = _call("GET", f"{API}/webhook-endpoints", headers=auth)
        if status == 200 and reply["items"]:
            endpoint = reply["items"][0]["id"]
    events = []
    for _ in range(20):
        status, reply = _call("GET", f"{API}/events?limit=5", headers=auth)
        if status == 200 and reply["items"]:
            events = [e["id"] for e in reply["items"]]
            break
        time.sleep(0.5)
    return endpoint, events


WEBHOOK_ENDPOINT, EVENT_IDS = _seed_webhooks()
def _seed_quote():
    """A real quote of the fuzzing partner (valid 15 minutes, longer than a CI run's fuzzing)."""
    status, reply = _call(
        "POST",
        f"{API}/quotes",
        {"product_code": "ahasme", "item_value": 3000000},
        {"Authorization": f"Bearer {_token()}"},
    )
    if status != 200:
        raise RuntimeError(f"seeding a quote: {status} {reply}")
    return reply


QUOTE = _seed_quote()


def _pick(case_key, only=None):
    """A real (tracking_number, policy_id) for about half of the cases, else None."""
    h = zlib.crc32(case_key.encode("utf-8", "surrogatepass"))
    if h % 2 == 0:
        return None
    items = [i for i in KNOWN_ITEMS if only is None or only(i[0])] or KNOWN_ITEMS
    return items[(h // 2) % len(items)]


# Cancel works on TN001 and tracking on the run's own delivery, so that an early cancellation
# does not turn every later tracking update into 409 policy_cancelled.
FOR_OPERATION = {
    "/api/v1/sme-deliveries/cancel": lambda tn: tn == "TN001",
    "/api/v1/tracking-details": lambda tn: tn != "TN001",
}


@schemathesis.auth().skip_for(path="/oauth/token")
class ClientCredentials:
    def get(self, case, ctx):
        return _token()

    def set(self, case, data, ctx):
        case.headers = dict(case.headers or {})
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.auth().apply_to(path="/oauth/token")
class TokenEndpointBasic:
    def get(self, case, ctx):
        return BASIC

    def set(self, case, data, ctx):
        # Body credentials plus Basic is `invalid_request` by contract: keep the fuzzer's
        # body credentials when it sends some, else authenticate with the kit's.
        body = case.body if isinstance(case.body, dict) else {}
        if "client_id" in body or "client_secret" in body:
            return
        case.headers = dict(case.headers or {})
        case.headers.setdefault("Authorization", data)


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    params = case.path_parameters
    if params:
        key = json.dumps(params, sort_keys=True, default=str)
        real = _pick(key)
        if real and "tracking_number" in params:
            params["tracking_number"] = real[0]
        if real and "policy_id" in params:
            params["policy_id"] = real[1]
        if real and "endpoint_id" in params and WEBHOOK_ENDPOINT:
            params["endpoint_id"] = WEBHOOK_ENDPOINT
        if real and "event_id" in params and EVENT_IDS:
            params["event_id"] = EVENT_IDS[zlib.crc32(key.encode()) % len(EVENT_IDS)]
        if "claim_id" in params and zlib.crc32(key.encode("utf-8", "surrogatepass")) % 2 == 1:
            params["claim_id"] = CLAIM_ID
        if real and "product_code" in params:
            params["product_code"] = "ahasme"
    body = case.body
    if not isinstance(body, dict) or "signature" not in body:
        return
    if path.startswith("/api/v1/claims"):
        if path == "/api/v1/claims":
            if zlib.crc32(json.dumps(body, sort_keys=True, default=str).encode("utf-8", "surrogatepass")) % 2:
                body["tracking_number"] = CLAIM_TN
                body["policy_id"] = CLAIM_POLICY
            tn, amount = body.get("tracking_number"), body.get("claimed_amount")
        else:
            tn, amount = CLAIM_TN, CLAIM_AMOUNT
        if isinstance(tn, str) and isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0:
            body["signature"] = _signature(tn, amount)
        return
    if path in ("/api/v1/tracking-details", "/api/v1/sme-deliveries/cancel"):
        real = _pick(json.dumps(body, sort_keys=True, default=str), FOR_OPERATION[path])
        if real:
            body["tracking_number"] = real[0]
            if "policy_id" in body:
                body["policy_id"] = real[1]
    if path == "/api/v1/sme-deliveries" and "quote_id" in body:
        if _pick(json.dumps(body, sort_keys=True, default=str)):
            for field in ("quote_id", "product_code", "item_value", "premium_amount"):
                body[field] = QUOTE[field]
    tn = body.get("tracking_number")
    premium = body.get("premium_amount", PREMIUM)
    if isinstance(tn, str) and isinstance(premium, int) and not isinstance(premium, bool) and premium >= 0:
        body["signature"] = _signature(tn, premium)


STATS = collections.defaultdict(collections.Counter)
REJECTIONS = collections.defaultdict(collections.Counter)


@schemathesis.hook
def after_call(context, case, response):
    op = f"{case.method.upper()} {case.operation.path}"
    STATS[op][str(response.status_code)] += 1
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except Exception:
            return
        if isinstance(body, dict):
            why = body.get("code") or body.get("error")
            message = str(body.get("message") or body.get("error_description") or "")
            # The field and the problem, without the values.
            REJECTIONS[op][f"{response.status_code} {why}: {' '.join(message.split()[:4])}"] += 1


@atexit.register
def _write_stats():
    os.makedirs(os.path.dirname(STATS_PATH) or ".", exist_ok=True)
    out = {op: dict(sorted(c.items())) for op, c in sorted(STATS.items())}
    out["total"] = sum(sum(c.values()) for c in STATS.values())
    out["rejections"] = {
        op: dict(c.most_common(15)) for op, c in sorted(REJECTIONS.items())
    }
    with open(STATS_PATH, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
