"""Work management in a real browser: a journey opens an invitation-call ticket, the telesales
agent it went to finds it under "Của tôi", is told when Decree 91 lets her call, logs the call,
closes the ticket as won, and the customer's journey shows it converted; her manager sees the
counts."""

import time

import pytest
from playwright.sync_api import expect

from conftest import shot, sign_in


@pytest.fixture(scope="module", autouse=True)
def telesales(runner):
    """Team `ts` with its manager Quang and agent Thu; its queue deals tickets in turn."""
    runner.add_team("ts", "Telesales Hà Nội", "")
    runner.add_user("quang", "Đinh Văn Quang", "manager", "ts")
    runner.add_user("thu.ho", "Hồ Thị Thu", "telesales", "ts")
    status, rule = runner.call("GET", "/v1/ticket-queues/telesales/rule")
    assert status == 200, rule
    status, body = runner.call("PUT", "/v1/ticket-queues/telesales/rule", {
        "version": rule["version"], "rule": {"assignment": "round_robin", "team": "ts"}})
    assert status == 200, body
    return runner


INVITE = {
    "key": "moi-tra-gop-telesales", "name": "Mời trả góp qua telesales",
    "trigger": {"type": "event", "event": "app.installed"},
    "goals": [{"name": "Đăng ký qua telesales", "event": "ticket.won"}],
    "start": "giao",
    "steps": {
        "giao": {"type": "ticket", "queue": "telesales", "purpose": "marketing", "sla": "4h",
                 "title": "Gọi mời đăng ký trả góp", "next": "cho"},
        "cho": {"type": "wait_for_event", "event": "ticket.closed", "timeout": "14d",
                "when": {"attribute": {"path": "event.status", "op": "ne", "value": "won"}},
                "on_event": "het", "on_timeout": "het"},
        "het": {"type": "exit"},
    },
}


def test_a_journeys_ticket_is_taken_called_and_won(runner, page):
    status, body = runner.call("POST", "/v1/journeys?publish=true", INVITE)
    assert status == 201, body
    customer = runner.customer(full_name="Mai Thị Hạnh", phones=["0936 111 222"])
    status, body = runner.call("POST", "/v1/events", {"source": "mobile-app", "events": [
        {"id": "cai-app-hanh", "type": "app.installed", "customer": {"id": customer["id"]}}]})
    assert status == 202, body
    sign_in(page, runner, "thu.ho")
    deadline = time.time() + 30
    while time.time() < deadline:
        page.goto(runner.url + "/app/tickets?view=mine")
        if page.locator("#tickets", has_text="Mai Thị Hạnh").count():
            break
        time.sleep(0.5)
    row = page.locator("#tickets tr", has_text="Mai Thị Hạnh")
    expect(row).to_contain_text("Gọi mời (NĐ 91)")
    expect(row).to_contain_text("thu.ho")
    row.locator("a", has_text="Gọi mời đăng ký trả góp").click()
    expect(page.locator("#ticket-status")).to_have_text("Mới")
    expect(page.locator("#next-call")).not_to_be_empty()
    # An invitation call after 17:00 is refused, with the next time Decree 91 allows: for
    # Friday 8 January 2027 at 17:30, 08:00 on Monday 11 January.
    page.fill("#plan-date", "08/01/2027")
    page.fill("#plan-time", "17:30")
    page.click("#plan-form button")
    expect(page.locator("#ticket-problem")).to_contain_text("Ngoài khung giờ gọi quảng cáo")
    expect(page.locator("#ticket-problem")).to_contain_text("08:00 11/01/2027")
    shot(page, "11-phieu-goi-moi")
    # The call is made and logged: the ticket is taken.
    page.select_option("#call-outcome", "answered")
    page.fill("#call-minutes", "4")
    page.fill("#call-notes", "Khách đồng ý đăng ký trả góp 6 tháng")
    page.click("#call-form button")
    expect(page.locator(".flash")).to_contain_text("Đã ghi cuộc gọi")
    expect(page.locator("#ticket-status")).to_have_text("Đang xử lý")
    # Closed as won, with its outcome.
    page.select_option("#status", "won")
    page.fill("#status-note", "Khách đã đăng ký trả góp")
    page.click("#status-form button")
    expect(page.locator("#ticket-status")).to_have_text("Thành công (đã đăng ký)")
    expect(page.locator("#ticket-outcome")).to_have_text("Khách đã đăng ký trả góp")
    page.click("text=Đăng xuất")
    # The manager sees the team's ticket and the queue's counts.
    sign_in(page, runner, "quang")
    page.goto(runner.url + "/app/tickets?view=team")
    expect(page.locator("#tickets")).to_contain_text("Mai Thị Hạnh")
    expect(page.locator("#ticket-stats")).to_contain_text("Telesales")
    shot(page, "12-phieu-nhom")
    page.click("text=Đăng xuất")
    # The customer's journey converted; the call is on the timeline with the ticket.
    sign_in(page, runner, "admin")
    page.goto(runner.url + f"/app/customers/{customer['id']}")
    deadline = time.time() + 30
    while time.time() < deadline:
        if page.locator("#journeys", has_text="Đạt mục tiêu").count():
            break
        time.sleep(0.5)
        page.reload()
    expect(page.locator("#journeys")).to_contain_text("moi-tra-gop-telesales")
    expect(page.locator("#journeys")).to_contain_text("Đạt mục tiêu")
    expect(page.locator("#timeline")).to_contain_text("Khách đồng ý đăng ký trả góp 6 tháng")
