"""Work management in a real browser: a journey opens an invitation-call ticket, the telesales
agent it went to finds it under "Của tôi", is told when Decree 91 lets her call, logs the call,
closes the ticket as won, and the customer's journey shows it converted; her manager sees the
counts."""

import json
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from conftest import shot, sign_in


@pytest.fixture(scope="module", autouse=True)
def telesales(runner):
    """Team `ts` with its manager Quang and agent Thu, who reports to him; its queue deals
    tickets in turn."""
    runner.add_team("ts", "Telesales Hà Nội", "")
    runner.add_user("quang", "Đinh Văn Quang", "manager", "ts")
    runner.passwords["thu.ho"] = runner.cli("user", "add", "--username", "thu.ho", "--name", "Hồ Thị Thu",
                                            "--role", "telesales", "--team", "ts", "--manager", "quang",
                                            "--extension", "101")
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
    # By journey: the tickets the invitation journey opened.
    page.goto(runner.url + "/app/tickets?view=group")
    page.select_option("#journey", "moi-tra-gop-telesales")
    page.click("#journey-filter button")
    expect(page.locator("#tickets")).to_contain_text("Mai Thị Hạnh")
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


def as_user(runner, username, role, team, method, path, body=None):
    """An API call with a token for `username` (what they would do from another app)."""
    token = runner.cli("token", "--user", username, "--role", role, "--team", team)
    data = json.dumps(body).encode() if body is not None else None
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    request = urllib.request.Request(runner.url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
        return response.status, (json.loads(text) if text else None)


def test_a_manager_gives_a_task_and_hears_it_done(runner, page):
    sign_in(page, runner, "quang")
    page.goto(runner.url + "/app/tasks?view=given")
    page.fill("#task-title", "Gọi lại khách chưa kích hoạt thẻ")
    page.fill("#task-description", "Danh sách trong báo cáo tuần")
    page.select_option("#task-assignee", "thu.ho")
    page.fill("#task-date", "04/12/2026")
    page.fill("#task-time", "17:00")
    page.select_option("#task-priority", "high")
    page.fill("#task-remind", "120")
    page.click("#task-form button")
    expect(page.locator(".flash")).to_contain_text("Đã giao việc")
    # The week of Monday 30/11 to Sunday 6/12 spans two months.
    expect(page.locator("#task-range")).to_have_text("30/11/2026 – 06/12/2026")
    expect(page.locator("#tasks")).to_contain_text("Gọi lại khách chưa kích hoạt thẻ")
    expect(page.locator("#task-progress")).to_contain_text("thu.ho")
    page.click("text=Đăng xuất")
    sign_in(page, runner, "thu.ho")
    page.goto(runner.url + "/app/tasks?date=2026-12-04")
    page.click("#tasks a", timeout=10_000)
    expect(page.locator("#task-status")).to_have_text("Đang làm")
    page.fill("#comment-text", "Đã gọi 12 khách")
    page.click("#comment-form button")
    expect(page.locator("#task-comments")).to_contain_text("Đã gọi 12 khách")
    # "Đã hoàn thành" needs its comment.
    page.click("#complete-form button")
    expect(page.locator("#task-problem")).to_contain_text("Ghi nhận xét khi hoàn thành")
    # A message put in a link by someone else is not shown; only the console's own redirects'.
    page.goto(page.url.split("?")[0] + "?problem=G%E1%BB%8Di+s%E1%BB%91+0900+%C4%91%E1%BB%83+x%C3%A1c+minh&seal=00")
    expect(page.locator("#task-problem")).to_have_count(0)
    page.fill("#complete-comment", "Đã gọi đủ 20 khách, 7 khách kích hoạt")
    page.click("#complete-form button")
    expect(page.locator("#task-status")).to_have_text("Đã hoàn thành")
    shot(page, "13-cong-viec")
    page.click("text=Đăng xuất")
    # The manager's bell rings with the completion; he sees Thu's week.
    sign_in(page, runner, "quang")
    page.goto(runner.url + "/app/notifications")
    expect(page.locator("main")).to_contain_text("thu.ho đã hoàn thành: Đã gọi đủ 20 khách, 7 khách kích hoạt")
    page.goto(runner.url + "/app/tasks?date=2026-12-04")
    page.select_option("#person", "thu.ho")
    page.click("#person-filter button")
    expect(page.locator("#tasks")).to_contain_text("Gọi lại khách chưa kích hoạt thẻ")
    expect(page.locator("#tasks")).to_contain_text("Đã hoàn thành")
    # A task about a customer, given from the customer's page.
    customer = runner.customer(full_name="Tạ Thị Loan", phones=["0936 555 666"])
    runner.assign(customer["id"], "thu.ho", "ts")
    page.goto(runner.url + f"/app/customers/{customer['id']}")
    page.click("#task-about")
    expect(page.locator("#task-customer")).to_be_visible()
    page.fill("#task-title", "Gửi lại hồ sơ vay cho khách")
    page.select_option("#task-assignee", "thu.ho")
    page.fill("#task-date", "07/12/2026")
    page.click("#task-form button")
    expect(page.locator(".flash")).to_contain_text("Đã giao việc")
    page.locator("#tasks a", has_text="Gửi lại hồ sơ vay cho khách").click()
    expect(page.locator("#task-customer-link")).to_contain_text("Tạ Thị Loan")


def test_the_agenda_completes_moves_and_cancels_next_actions(runner, page):
    customer = runner.customer(full_name="Đặng Thu Hà", phones=["0936 333 444"])
    runner.assign(customer["id"], "thu.ho", "ts")
    actions = []
    for at, note in [("2026-12-03T09:00:00+07:00", "Gọi tư vấn"), ("2026-12-03T14:00:00+07:00", "Hẹn gặp"),
                     ("2026-12-04T10:00:00+07:00", "Nhắc hồ sơ")]:
        status, body = as_user(runner, "thu.ho", "telesales", "ts", "POST",
                               f"/v1/customers/{customer['id']}/next-actions",
                               {"type": "call", "at": at, "note": note})
        assert status == 201, body
        actions.append(body["id"])
    sign_in(page, runner, "thu.ho")
    page.goto(runner.url + "/app/agenda?period=week&date=2026-12-03")
    table = page.locator("#agenda-actions")
    expect(table).to_contain_text("Đặng Thu Hà")
    # Done, with the call logged in the same step.
    row = table.locator("tr", has_text="Gọi tư vấn")
    row.locator("input[name=log_call]").check()
    row.locator("input[name=notes]").fill("Khách hẹn tuần sau")
    row.locator(".done-form button").click()
    expect(page.locator(".flash")).to_contain_text("Đã hoàn thành lịch hẹn")
    expect(page.locator("#agenda-actions tr", has_text="Gọi tư vấn")).to_contain_text("Đã xong")
    # Moved to Friday 15:00.
    row = page.locator("#agenda-actions tr", has_text="Hẹn gặp")
    row.locator("input[name=new_date]").fill("04/12/2026")
    row.locator("input[name=new_time]").fill("15:00")
    row.locator(".move-form button").click()
    expect(page.locator(".flash")).to_contain_text("Đã dời lịch hẹn")
    expect(page.locator("#agenda-actions tr", has_text="Hẹn gặp")).to_contain_text("04/12/2026 15:00")
    # Cancelled.
    page.locator("#agenda-actions tr", has_text="Nhắc hồ sơ").locator(".cancel-form button").click()
    expect(page.locator("#agenda-actions tr", has_text="Nhắc hồ sơ")).to_contain_text("Đã huỷ")
    shot(page, "14-lich-lam-viec")
    page.goto(runner.url + f"/app/customers/{customer['id']}")
    expect(page.locator("#timeline")).to_contain_text("Khách hẹn tuần sau")


def test_an_incoming_call_pops_up_on_the_agents_screen(runner, page):
    known = runner.customer(full_name="Vũ Minh Tâm", phones=["0936 777 888"], gender="male", given_name="Tâm")
    sign_in(page, runner, "thu.ho")
    page.goto(runner.url + "/app/agenda")
    expect(page.locator(".call-pop")).to_have_count(0)
    # A known caller rings extension 101: the card is on Thu's screen within two seconds.
    status, card = runner.incoming_call("cc-1001", "0936777888", "101")
    assert status == 200, card
    pop = page.locator(".call-pop")
    expect(pop).to_be_visible(timeout=2_000)
    expect(pop).to_contain_text("Vũ Minh Tâm")
    expect(pop).to_contain_text("Anh Tâm")
    expect(pop).to_contain_text("Cuộc gọi đến")
    shot(page, "15-cuoc-goi-den")
    page.fill("#call-log-notes", "Khách hỏi lãi suất tiết kiệm")
    page.click("#call-log-form button")
    expect(page.locator("#timeline")).to_contain_text("Khách hỏi lãi suất tiết kiệm")
    expect(page.locator(".call-pop")).to_have_count(0)
    # An unknown number: "Tạo khách hàng tiềm năng", the number filled in.
    status, card = runner.incoming_call("cc-1002", "0936999000", "101")
    assert status == 201, card
    pop = page.locator(".call-pop")
    expect(pop).to_be_visible(timeout=2_000)
    expect(page.locator("#call-lead-phone")).to_have_value("+84936999000")
    page.fill("#call-lead-name", "Lý Văn Phúc")
    page.fill("#call-lead-notes", "Muốn mở thẻ tín dụng")
    page.click("#call-lead-form button")
    expect(page.locator("h1")).to_contain_text("Lý Văn Phúc")
    expect(page.locator("#timeline")).to_contain_text("Muốn mở thẻ tín dụng")
    # The lead is now Thu's.
    status, body = runner.call("GET", f"/v1/customers/{card['id']}")
    assert body["owner"] == "thu.ho", body
    # Another agent's screen shows nothing.
    assert known["id"]


def test_an_admin_sets_a_queues_rule_and_this_years_days_off(runner, page):
    sign_in(page, runner, "admin")
    page.goto(runner.url + "/app/admin/work")
    # This year's public holidays, the lunar ones included.
    expect(page.locator("#holidays")).to_contain_text("Tết Nguyên đán")
    expect(page.locator("#holidays")).to_contain_text("Giỗ Tổ Hùng Vương")
    form = page.locator("#rule-cskh")
    form.locator("select[name=assignment]").select_option("least_loaded")
    form.locator("select[name=team]").select_option("ts")
    form.locator("button").click()
    expect(page.locator(".flash")).to_contain_text("Đã lưu")
    expect(page.locator("#rule-cskh select[name=assignment]")).to_have_value("least_loaded")
    # A pool rule without a team is refused.
    form = page.locator("#rule-rm")
    form.locator("select[name=assignment]").select_option("round_robin")
    form.locator("button").click()
    expect(page.locator("#settings-problem")).to_contain_text("cần một nhóm")
    # The government's decision: a bridge day off and the Saturday worked for it.
    page.fill("#days-off", "02/01/2027")
    page.fill("#working-days", "09/01/2027")
    page.click("#calendar-form button")
    expect(page.locator(".flash")).to_contain_text("Đã lưu")
    expect(page.locator("#days-off")).to_have_value("02/01/2027")
    page.fill("#working-days", "31/02/2027")
    page.click("#calendar-form button")
    expect(page.locator("#settings-problem")).to_contain_text("Ngày không hợp lệ")
    shot(page, "16-phieu-va-lich")
    status, rule = runner.call("GET", "/v1/ticket-queues/cskh/rule")
    assert rule["rule"] == {"assignment": "least_loaded", "team": "ts"}, rule
