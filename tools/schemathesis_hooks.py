"""schemathesis hooks for the test command (scripts/test.sh loads them with SCHEMATHESIS_HOOKS).

`after_call` records every answer as one line `METHOD PATH-TEMPLATE STATUS` in the file named
by NHIP_ST_RECORD, so that tools/schemathesis_coverage.py can tell which operations never
answered 2xx over the whole run (schemathesis itself only warns about 404s).

`before_call` does for a generated request what the platform's real callers do and a fuzzer
cannot know to:
- the webhooks are signed as their senders sign them: the call centre and the SMS provider
  (HMAC-SHA256 of `<timestamp>.<body>`, the runner's NHIP_TELEPHONY_SECRET and
  NHIP_SMS_INBOUND_SECRET), Zalo (SHA-256 of app id, body, timestamp and OA secret), and SNS
  (RSA over the string to sign, with the key whose certificate the runner was given in
  NHIP_SNS_CERTIFICATE_DIR; see tools/sns_signing.py), each at the runner's simulated time;
- a write guarded by optimistic concurrency carries the version the caller just read (a
  customer's, a template's, the advertising rules', a journey's: new versions and publishing
  them; a ticket's, a task's, a queue rule's, the working calendar's, a contract's, a
  product's rates, the reminders' settings), as a client does, since other operations of the
  run keep moving them;
- a member of staff or a team named in a body is one of the directory (NHIP_ST_STAFF,
  NHIP_ST_TEAM, which scripts/test.sh adds), as the console's pickers offer them;
- a next action moved to another time is moved to the future (a day after the runner's now),
  as the console's date picker offers it; a ticket's call is planned two days on, at the
  runner's time of day (inside the working hours Decree 91's window allows);
- a contract's product and fee tier are one the console's list offers (NHIP_ST_CONTRACT_PRODUCT
  at `phi-10`).
Only a request whose body or query has the part in question is changed: a request the
fuzzer made invalid on purpose stays invalid.
"""

import datetime
import hashlib
import hmac
import json
import os
import urllib.request

import schemathesis

import sns_signing

_RECORD = os.environ.get("NHIP_ST_RECORD")
_RUNNER = os.environ.get("NHIP_ST_RUNNER", "")
_TOKEN = os.environ.get("NHIP_ST_TOKEN", "")


def _get(path, token=True):
    headers = {"authorization": f"Bearer {_TOKEN}"} if token else {}
    request = urllib.request.Request(_RUNNER + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except Exception:
        return None


def _now():
    """The runner's simulated instant, `YYYY-MM-DDTHH:MM:SS.mmmZ`."""
    clock = _get("/local/clock", token=False)
    return clock["now"] if clock else None


def _unix(instant):
    return int(datetime.datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp())


def _raw(case):
    """The bytes requests sends for a JSON body: bytes as they are, anything else as `json=`
    sends it (json.dumps with its defaults); None when it cannot be sent as JSON."""
    if isinstance(case.body, bytes):
        return case.body
    try:
        return json.dumps(case.body, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):
        return None


def _has_json_body(case):
    body = case.body
    return body is not None and not type(body).__name__ == "NotSet" and (case.media_type or "").endswith("json")


def _set_headers(case, values):
    headers = dict(case.headers or {})
    headers.update(values)
    case.headers = headers


def _hmac_sign(case, secret_var):
    secret = os.environ.get(secret_var)
    now = _now()
    raw = _raw(case) if _has_json_body(case) else None
    if not secret or not now or raw is None:
        return
    timestamp = str(_unix(now))
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    _set_headers(case, {"X-Nhip-Timestamp": timestamp, "X-Nhip-Signature": f"sha256={mac.hexdigest()}"})


def _zalo_sign(case):
    app_id, secret = os.environ.get("NHIP_ZALO_APP_ID"), os.environ.get("NHIP_ZALO_SECRET")
    if not app_id or not secret or not _has_json_body(case) or not isinstance(case.body, dict):
        return
    stamp, raw = case.body.get("timestamp"), _raw(case)
    if isinstance(stamp, bool) or not isinstance(stamp, (str, int)) or raw is None:
        return
    digest = hashlib.sha256(app_id.encode() + raw + str(stamp).encode() + secret.encode())
    _set_headers(case, {"X-ZEvent-Signature": f"mac={digest.hexdigest()}"})


def _sns_sign(case):
    topic = os.environ.get("NHIP_SES_EVENTS_TOPIC_ARN")
    folder = os.environ.get("NHIP_SNS_CERTIFICATE_DIR")
    body = case.body
    if not topic or not folder or not isinstance(body, dict):
        return
    # A subscription confirmation would have the runner visit SubscribeURL on SNS, which a
    # test machine cannot reach: it is left unsigned (403).
    if body.get("Type") not in ("Notification", "UnsubscribeConfirmation"):
        return
    now = _now()
    if not now or not all(isinstance(body.get(k), str) for k in ("Message", "MessageId")):
        return
    body["TopicArn"] = topic
    body["Timestamp"] = now
    sns_signing.sign(body, folder)


def _version_into_body(case, path):
    if isinstance(case.body, dict) and type(case.body.get("version")) is int:
        current = _get(path)
        if current and type(current.get("version")) is int:
            case.body["version"] = current["version"]


_STAFF = os.environ.get("NHIP_ST_STAFF")
_TEAM = os.environ.get("NHIP_ST_TEAM")


def _staff_into_body(case):
    body = case.body
    if _STAFF and isinstance(body, dict) and isinstance(body.get("assignee"), str):
        body["assignee"] = _STAFF
    rule = body.get("rule") if isinstance(body, dict) else None
    if _TEAM and isinstance(rule, dict) and isinstance(rule.get("team"), str):
        rule["team"] = _TEAM


def _future_into_body(case, field, days=1):
    now = _now()
    if now and isinstance(case.body, dict) and isinstance(case.body.get(field), str):
        later = datetime.datetime.fromisoformat(now.replace("Z", "+00:00")) + datetime.timedelta(days=days)
        case.body[field] = later.isoformat(timespec="seconds")


def _fee_tier_into_body(case):
    if isinstance(case.body, dict) and isinstance(case.body.get("fee_tier"), str):
        case.body["fee_tier"] = "phi-10"
    if isinstance(case.body, dict) and isinstance(case.body.get("product"), str):
        case.body["product"] = os.environ.get("NHIP_ST_CONTRACT_PRODUCT", case.body["product"])


_TICKET_WRITES = (
    "POST /v1/tickets/{id}/status",
    "POST /v1/tickets/{id}/assignee",
    "POST /v1/tickets/{id}/call-plan",
)


@schemathesis.hook
def before_call(context, case, kwargs):
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    params = case.path_parameters or {}
    if operation == "POST /v1/telephony/incoming":
        _hmac_sign(case, "NHIP_TELEPHONY_SECRET")
    elif operation == "POST /v1/tracking/sms-inbound":
        _hmac_sign(case, "NHIP_SMS_INBOUND_SECRET")
    elif operation == "POST /v1/tracking/zns":
        _zalo_sign(case)
    elif operation == "POST /v1/tracking/ses":
        _sns_sign(case)
    elif operation == "POST /v1/customers/{id}/submissions/{submission}/apply" and isinstance(params.get("id"), str):
        _version_into_body(case, f"/v1/customers/{params['id']}")
    elif operation in (
        "POST /v1/templates/{code}/versions",
        "POST /v1/templates/{code}/versions/{number}/publish",
    ) and isinstance(params.get("code"), str):
        _version_into_body(case, f"/v1/templates/{params['code']}")
    elif operation == "PUT /v1/compliance/advertising-rules":
        _version_into_body(case, "/v1/compliance/advertising-rules")
    elif operation in _TICKET_WRITES and isinstance(params.get("id"), str):
        _staff_into_body(case)
        _version_into_body(case, f"/v1/tickets/{params['id']}")
        if operation == "POST /v1/tickets/{id}/call-plan":
            _future_into_body(case, "at", days=2)
    elif operation == "PUT /v1/ticket-queues/{queue}/rule" and isinstance(params.get("queue"), str):
        _staff_into_body(case)
        _version_into_body(case, f"/v1/ticket-queues/{params['queue']}/rule")
    elif operation == "PUT /v1/settings/work-calendar":
        _version_into_body(case, "/v1/settings/work-calendar")
    elif operation == "PUT /v1/settings/reminders":
        _version_into_body(case, "/v1/settings/reminders")
    elif operation == "PUT /v1/catalogue/products/{code}/rates" and isinstance(params.get("code"), str):
        _version_into_body(case, f"/v1/catalogue/products/{params['code']}/rates")
    elif operation.startswith("POST /v1/customers/{id}/contracts/{contract}/") and isinstance(params.get("contract"), str):
        _version_into_body(case, f"/v1/customers/{params.get('id')}/holdings/{params['contract']}")
        _fee_tier_into_body(case)
    elif operation == "POST /v1/customers/{id}/contracts":
        _fee_tier_into_body(case)
    elif operation == "POST /v1/tasks":
        _staff_into_body(case)
    elif operation == "POST /v1/customers/{id}/next-actions/{action}/reschedule":
        _future_into_body(case, "at")
    elif operation == "POST /v1/tasks/{id}/complete" and isinstance(params.get("id"), str):
        _version_into_body(case, f"/v1/tasks/{params['id']}")
    elif operation == "POST /v1/journeys/{key}/versions/{number}/publish" and isinstance(params.get("key"), str):
        _version_into_body(case, f"/v1/journeys/{params['key']}")
    elif operation == "POST /v1/journeys/{key}/versions" and isinstance(params.get("key"), str):
        query = case.query
        if isinstance(query, dict) and type(query.get("based_on")) is int:
            current = _get(f"/v1/journeys/{params['key']}")
            if current and type(current.get("version")) is int:
                query["based_on"] = current["version"]


@schemathesis.hook
def after_call(context, case, response):
    if _RECORD:
        with open(_RECORD, "a", encoding="utf-8") as out:
            out.write(f"{case.operation.method.upper()} {case.operation.path} {response.status_code}\n")
