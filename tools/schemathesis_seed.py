"""Seeds a fresh local runner for schemathesis, through the API as staff and customers use it.

Usage: schemathesis_seed.py RUNNER_URL ADMIN_TOKEN CONSULTANT_TOKEN > seeds.env

Creates what operations addressed by an id need to exist (a product, a usage reason, a
customer owned by the consultant with a holding, an import with a refused row, a message
with its tracked and unsubscribe links, a bounced address, a campaign, an unverified form
submission and its double opt-in link, a reminder in each caller's bell, a ticket, a task,
next actions to complete, move and cancel) and prints them as
`NAME=value` lines.
tools/schemathesis.toml names them as `${NAME}` for the operations that take them.
"""

import datetime
import json
import re
import sys
import time
import urllib.error
import urllib.request

RUNNER, ADMIN, CONSULTANT = sys.argv[1], sys.argv[2], sys.argv[3]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def call(method, path, body=None, token=ADMIN, content_type="application/json", expect=(200, 201, 202)):
    data = None
    headers = {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers["content-type"] = content_type
    request = urllib.request.Request(RUNNER + path, data=data, method=method, headers=headers)
    try:
        with OPENER.open(request, timeout=30) as response:
            status, text, location = response.status, response.read().decode(), response.headers.get("location")
    except urllib.error.HTTPError as error:
        status, text, location = error.code, error.read().decode(), error.headers.get("location")
    if status not in expect:
        sys.exit(f"seed: {method} {path} answered {status}: {text}")
    try:
        return json.loads(text), location
    except ValueError:
        return text, location


def outbox():
    return call("GET", "/outbox.json?limit=200", token=None)[0]["items"]


def wait_for(what, match):
    """The runner sends in the background: the newest outbox entry `match` accepts (given the
    entry as JSON text), once there is one."""
    for _ in range(300):
        for entry in outbox():
            if match(json.dumps(entry, ensure_ascii=False)):
                return entry
        time.sleep(0.1)
    sys.exit(f"seed: no {what} in the outbox")


def daytime():
    """Advertising (the double opt-in among it) waits for Decree 91's hours: move the simulated
    clock to 10:00 in Việt Nam unless it is between 08:00 and 20:00 there."""
    clock, _ = call("GET", "/local/clock", token=None)
    hour = int(clock["now_vn"][11:13])
    if not 8 <= hour < 20:
        minutes = int(clock["now_vn"][14:16])
        wait = ((10 - hour) % 24) * 3600 - minutes * 60
        call("POST", "/local/clock/advance", {"seconds": wait}, token=None)


def tokens(entry, prefix):
    return re.findall(r"/" + prefix + r"/([A-Za-z0-9_.~-]+)", json.dumps(entry))


def main():
    seeds = {}
    daytime()
    # The catalogue: a product and a usage reason.
    call("POST", "/v1/catalogue/products", {"code": "bcc-12-thang", "name": "Hợp đồng BCC 12 tháng", "kind": "investment"})
    call("POST", "/v1/catalogue/usage-reasons", {"code": "chua-co-nhu-cau", "label": "Chưa có nhu cầu", "applies_to": "both"})
    seeds["NHIP_ST_PRODUCT"] = "bcc-12-thang"
    seeds["NHIP_ST_REASON"] = "chua-co-nhu-cau"

    # A customer of the consultant's, with marketing e-mail consent and a holding.
    customer, _ = call("POST", "/v1/customers", {
        "full_name": "Trần Thị Lan", "phones": ["0912345678"], "emails": ["lan.tran@example.vn"],
        "source": "assigned", "consents": ["email:marketing"], "owner": "schemathesis-consultant",
    })
    cid = customer["id"]
    call("POST", f"/v1/customers/{cid}/owner", {"owner": "schemathesis-consultant", "team": "hn", "version": customer["version"]})
    call("POST", f"/v1/customers/{cid}/holdings", {"product": "bcc-12-thang", "status": "active"})
    seeds["NHIP_ST_CUSTOMER"] = cid
    seeds["NHIP_ST_HOLDING"] = call("GET", f"/v1/customers/{cid}/holdings")[0]["items"][0]["id"]

    # An import with one refused row, so it has an error report.
    report, _ = call("POST", "/v1/imports/customers", "full_name,phone\nLê Văn Bình,0987654321\nKhông Số,12\n",
                     content_type="text/csv")
    seeds["NHIP_ST_IMPORT"] = report["import_id"]

    # A marketing e-mail to the customer: its unsubscribe link.
    sent, _ = call("POST", f"/v1/customers/{cid}/messages", {
        "targets": [{"channel": "email", "template": "the-moi-chao-mung-email"}], "purpose": "marketing",
    })
    seeds["NHIP_ST_MESSAGE"] = sent["message_id"]
    entry = wait_for("welcome e-mail", lambda text: sent["message_id"] in text)
    seeds["NHIP_ST_UNSUBSCRIBE_TOKEN"] = tokens(entry, "u")[0]
    # An SMS reminder with a link (service, so at any hour): its link is tracked.
    call("POST", "/v1/templates", {"code": "nhac-thanh-toan-sms", "name": "Nhắc thanh toán — SMS", "publish": True,
                                   "content": {"channel": "sms", "text": "Ky thanh toan sap den han: https://nhip.example/thanh-toan"}})
    call("PATCH", f"/v1/customers/{cid}", {"consents": ["sms:care"], "version": call("GET", f"/v1/customers/{cid}")[0]["version"]})
    sent, _ = call("POST", f"/v1/customers/{cid}/messages", {
        "targets": [{"channel": "sms", "template": "nhac-thanh-toan-sms"}], "purpose": "care",
    })
    entry = wait_for("reminder SMS", lambda text: sent["message_id"] in text)
    seeds["NHIP_ST_LINK_TOKEN"] = tokens(entry, "t")[0]

    # A second customer whose e-mail bounces: a suppressed address.
    bounced, _ = call("POST", "/v1/customers", {
        "full_name": "Phạm Quốc Cường", "emails": ["cuong.pham@example.vn"], "source": "referral",
        "consents": ["email:marketing"],
    })
    sent, _ = call("POST", f"/v1/customers/{bounced['id']}/messages", {
        "targets": [{"channel": "email", "template": "the-moi-chao-mung-email"}], "purpose": "marketing",
    })
    provider_id = wait_for("e-mail to bounce", lambda text: sent["message_id"] in text)["provider_id"]
    with open("events/engagement-tracker/ses-bounce-permanent.json", encoding="utf-8") as fixture:
        call("POST", f"/local/functions/engagement-tracker?provider_id={provider_id}&stamp=now", fixture.read(), token=None)
    seeds["NHIP_ST_SUPPRESSED_FAMILY"] = "email"
    seeds["NHIP_ST_SUPPRESSED_ADDRESS"] = "cuong.pham@example.vn"

    # Someone posts the public form in the customer's name: an unverified submission, and a
    # double opt-in asking the customer to confirm SMS marketing.
    call("POST", "/v1/intake/leads", {"full_name": "Trần Thị Lan Anh", "phone": "0912345678",
                                      "email": "lan.moi@example.vn", "consents": ["sms:marketing"]}, token=None)
    entry = wait_for("double opt-in", lambda text: "xác nhận" in text)
    confirm = tokens(entry, "v1/intake/confirm")
    if not confirm:
        # The confirmation link is tracked: follow it to the confirmation page.
        _, location = call("GET", "/t/" + tokens(entry, "t")[0], token=None, expect=(302, 303, 307))
        confirm = re.findall(r"/v1/intake/confirm/([A-Za-z0-9_.~-]+)", location)
    seeds["NHIP_ST_CONFIRM_TOKEN"] = confirm[0]
    timeline, _ = call("GET", f"/v1/customers/{cid}/timeline")
    seeds["NHIP_ST_SUBMISSION"] = next(
        item["data"]["submission"] for item in timeline["items"] if item["event_type"] == "lead.resubmitted"
    )

    # A campaign to the consultant's team.
    campaign, _ = call("POST", "/v1/campaigns", {
        "name": "Ưu đãi tháng 12", "purpose": "care", "filters": {"team": "hn"},
        "targets": [{"channel": "email", "template": "the-moi-chao-mung-email"}],
    })
    seeds["NHIP_ST_CAMPAIGN"] = campaign["id"] if "id" in campaign else campaign["campaign"]["id"]

    # A meeting each caller scheduled with a customer they own, due an hour ago on the runner's
    # clock: each caller's bell holds its reminder (the owner is the one reminded).
    clock, _ = call("GET", "/local/clock", token=None)
    at = datetime.datetime.fromisoformat(clock["now"].replace("Z", "+00:00")) + datetime.timedelta(hours=1)
    for owned, token in ((bounced["id"], ADMIN), (cid, CONSULTANT)):
        call("POST", f"/v1/customers/{owned}/next-actions", {"type": "meeting", "at": at.isoformat(timespec="seconds"),
                                                          "note": "Gặp tại văn phòng"}, token=token)
    call("POST", "/local/clock/advance", {"seconds": 7200}, token=None)
    for role, token in (("ADMIN", ADMIN), ("CONSULTANT", CONSULTANT)):
        for _ in range(300):
            items = call("GET", "/v1/me/notifications", token=token)[0]["items"]
            if items:
                break
            time.sleep(0.1)
        else:
            sys.exit(f"seed: the {role.lower()}'s bell never rang")
        seeds[f"NHIP_ST_NOTIFICATION_{role}"] = items[0]["id"]

    # A ticket a journey opened for a new lead, for the ticket workflow's operation.
    call("POST", "/v1/journeys?publish=true", {
        "key": "goi-kh-moi-st", "name": "Gọi tư vấn khách hàng mới",
        "trigger": {"type": "event", "event": "lead.created"}, "start": "phieu",
        "steps": {"phieu": {"type": "ticket", "queue": "telesales", "sla": "4h", "title": "Gọi tư vấn KH mới",
                            "next": "het"}, "het": {"type": "exit"}},
    })
    # Two leads, two tickets: one for the status changes alone, one for calls, plans and
    # reassignment (a logged call takes a ticket, which would leave a status change nothing to do).
    call("POST", "/v1/intake/leads", {"full_name": "Đinh Văn Phiếu", "phone": "0934567891"}, token=None)
    call("POST", "/v1/intake/leads", {"full_name": "Đinh Thị Phiếu", "phone": "0934567892"}, token=None)
    for _ in range(300):
        tickets = call("GET", "/v1/tickets?queue=telesales")[0]["items"]
        if len(tickets) >= 2:
            break
        time.sleep(0.1)
    else:
        sys.exit("seed: the two tickets were not opened")
    seeds["NHIP_ST_TICKET"] = tickets[0]["id"]
    seeds["NHIP_ST_TICKET_STATUS"] = tickets[1]["id"]

    # A task the admin gave the directory's telesales member, and three next actions of the
    # consultant's (one each to complete, move and cancel).
    clock, _ = call("GET", "/local/clock", token=None)
    later = datetime.datetime.fromisoformat(clock["now"].replace("Z", "+00:00")) + datetime.timedelta(days=2)
    task, _ = call("POST", "/v1/tasks", {"title": "Gọi lại khách chưa kích hoạt thẻ", "assignee": "schemathesis-telesales",
                                         "deadline": later.isoformat(timespec="seconds")})
    seeds["NHIP_ST_TASK"] = task["id"]
    for what in ("COMPLETE", "MOVE", "CANCEL"):
        action, _ = call("POST", f"/v1/customers/{cid}/next-actions", {
            "type": "call", "at": later.isoformat(timespec="seconds"), "note": "Gọi nhắc hồ sơ"}, token=CONSULTANT)
        seeds[f"NHIP_ST_ACTION_{what}"] = action["id"]

    # Contracts of the consultant's customer, of a product of their own (the run changes
    # bcc-12-thang's rates and may deactivate it): a draft to activate, and one active contract
    # each to settle, renew and tick as scanned; an instalment plan to pay.
    call("POST", "/v1/catalogue/products", {"code": "bcc-24-thang", "name": "Hợp đồng BCC 24 tháng", "kind": "investment"})
    seeds["NHIP_ST_CONTRACT_PRODUCT"] = "bcc-24-thang"

    def contract(active):
        signed, _ = call("POST", f"/v1/customers/{cid}/contracts", {
            "product": "bcc-24-thang", "principal": 500000000, "term_months": 12, "fee_tier": "phi-10",
            "active": active}, token=CONSULTANT)
        return signed["contract"]["id"]
    seeds["NHIP_ST_CONTRACT_DRAFT"] = contract(False)
    for what in ("SETTLE", "RENEW", "SCAN"):
        seeds[f"NHIP_ST_CONTRACT_{what}"] = contract(True)
    plan, _ = call("POST", f"/v1/customers/{cid}/installment-plans", {
        "principal": 12000000, "months": 6, "method": "flat", "rate_bp": 199,
        "first_due": later.date().isoformat()}, token=CONSULTANT)
    seeds["NHIP_ST_PLAN"] = plan["id"]

    for name, value in seeds.items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
