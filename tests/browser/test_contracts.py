"""Contracts and schedules in a real browser: an admin raises a product's base rate and sees it
apply to the next contract only, a contract renewed shows its chain, the scanned tick makes the
consultant's bonus official; an instalment plan is set up from the customer's page, the clock is
moved to its first reminder (on a runner of its own), a payment is entered, and the next reminder
moves on while the paid instalment is reminded no more. Others than admins do not reach the
settings."""

import calendar
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from conftest import Runner, shot, sign_in

VN = timezone(timedelta(hours=7))


@pytest.fixture(scope="module")
def investment(runner):
    """An investment product, a consultant of team `tv` and a customer of hers who agreed to
    care messages by SMS."""
    status, body = runner.call("POST", "/v1/catalogue/products", {
        "code": "bcc-6-thang", "name": "Hợp đồng BCC 6 tháng", "kind": "investment"})
    assert status == 201, body
    runner.add_team("tvdt", "Tư vấn đầu tư", "")
    runner.add_user("hoa.ngo", "Ngô Thị Hoa", "consultant", "tvdt")
    customer = runner.customer(full_name="Đặng Văn Long", phones=["0907 654 321"], consents=["sms:care"])
    runner.assign(customer["id"], "hoa.ngo", "tvdt")
    return customer["id"]


@pytest.fixture(scope="module")
def own_runner():
    """A runner of its own, with a consultant and her customer: the plan's test moves the clock
    days on, which the suite's shared runner (whose later tests name dates) must not see."""
    started = Runner()
    status, body = started.call("POST", "/v1/catalogue/products", {
        "code": "bcc-6-thang", "name": "Hợp đồng BCC 6 tháng", "kind": "investment"})
    assert status == 201, body
    started.add_team("tvdt", "Tư vấn đầu tư", "")
    started.add_user("hoa.ngo", "Ngô Thị Hoa", "consultant", "tvdt")
    customer = started.customer(full_name="Bùi Thị Thanh", phones=["0908 765 432"], consents=["sms:care"])
    started.assign(customer["id"], "hoa.ngo", "tvdt")
    started.plan_customer = customer["id"]
    yield started
    started.stop()


def switch(page, runner, username):
    """Signs out whoever is signed in, then signs in as `username`."""
    page.goto(runner.url + "/app/sign-in")
    if page.locator("text=Đăng xuất").count():
        page.click("text=Đăng xuất")
    sign_in(page, runner, username)


def today(runner):
    now = runner.call("GET", "/local/clock", token=False)[1]["now"]
    return datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(VN)


def next_month(day):
    """The same day a month on (the last day of a shorter month), as the schedule counts."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def axe_clean(page):
    problems = [f"{page.url}: {v['id']} ({v['impact']}): {v['help']}"
                for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert problems == []


def sign_contract(page, principal, reference):
    page.click("#sign-details summary")
    page.select_option("#s-offer", "bcc-6-thang|phi-10")
    page.fill("#s-principal", principal)
    page.fill("#s-term", "6")
    page.fill("#s-reference", reference)
    page.click("#sign-form button")


def test_a_new_base_rate_applies_to_the_next_contract_and_a_renewal_shows_its_chain(runner, page, investment):
    sign_in(page, runner, "hoa.ngo")
    page.goto(f"{runner.url}/app/customers/{investment}")
    page.click("#contracts-link")
    sign_contract(page, "500.000.000", "HD-LONG-01")
    first = page.locator("#contracts tr", has_text="HD-LONG-01")
    expect(first).to_contain_text("6,00%")
    expect(first).to_contain_text("Đang hiệu lực")
    # Settings are the admin's: a consultant finds no such page.
    response = page.goto(f"{runner.url}/app/admin/rates")
    assert response.status == 404

    switch(page, runner, "admin")
    page.goto(f"{runner.url}/app/admin/rates")
    page.fill("#base-bcc-6-thang", "6,5")
    page.click("#rates-bcc-6-thang .rates-form button")
    expect(page.locator("#rates-bcc-6-thang .base-rate")).to_have_text("6,50%")
    expect(page.locator("#rates-bcc-6-thang .rates-history")).to_contain_text("lãi 6,00% → 6,50%")
    axe_clean(page)
    shot(page, "17-lai-suat-va-phi")

    switch(page, runner, "hoa.ngo")
    page.goto(f"{runner.url}/app/customers/{investment}/contracts")
    sign_contract(page, "200.000.000", "HD-LONG-02")
    expect(page.locator("#contracts tr", has_text="HD-LONG-02")).to_contain_text("6,50%")
    expect(page.locator("#contracts tr", has_text="HD-LONG-01")).to_contain_text("6,00%")
    # Renew the first: it closes, its successor takes today's 6,5 %, linked both ways.
    first = page.locator("#contracts tr", has_text="HD-LONG-01").first
    first.locator("summary", has_text="Gia hạn").click()
    first.locator("input[name=reference]").fill("HD-LONG-03")
    first.locator(".renew-form button").click()
    old = page.locator("#contracts tr", has_text="gia hạn thành")
    expect(old).to_contain_text("HD-LONG-01")
    expect(old).to_contain_text("Đã gia hạn")
    new = page.locator("#contracts tr", has_text="gia hạn từ")
    expect(new).to_contain_text("HD-LONG-03")
    expect(new).to_contain_text("6,50%")
    expect(new).to_contain_text("Đang hiệu lực")
    # The scanned tick makes the new contract count officially.
    new.locator("button", has_text="Đã lấy HĐ về và scan").click()
    expect(page.locator("#contracts tr[data-status=active]", has_text="gia hạn từ")).to_contain_text(
        "Đã lấy HĐ về và scan: hoa.ngo")
    axe_clean(page)
    shot(page, "18-hop-dong-gia-han")
    page.goto(f"{runner.url}/app/bonus")
    expect(page.locator("#bonus-counted")).to_contain_text("3 hợp đồng")
    expect(page.locator("#bonus-official")).to_contain_text("1 hợp đồng · 500.000.000 ₫")
    axe_clean(page)


def test_an_instalment_plan_is_reminded_until_paid(own_runner, page):
    runner = own_runner
    investment = runner.plan_customer
    now = today(runner)
    first_due = (now + timedelta(days=6)).date()
    d5 = first_due - timedelta(days=5)
    sign_in(page, runner, "hoa.ngo")
    page.goto(f"{runner.url}/app/customers/{investment}/contracts")
    page.click("#plan-details summary")
    page.fill("#p-principal", "12.000.000")
    page.fill("#p-months", "6")
    page.select_option("#p-method", "flat")
    page.fill("#p-rate", "1,99")
    page.fill("#p-first", first_due.strftime("%d/%m/%Y"))
    page.click("#plan-form button")
    plan = page.locator("article.plan").first
    expect(plan.locator(".plan-total")).to_have_text("12.238.800 ₫")
    expect(plan.locator(".schedule tbody tr")).to_have_count(6)
    expect(plan.locator(".schedule tbody tr").first).to_contain_text("2.039.800 ₫")
    expect(plan.locator(".plan-next")).to_have_text(d5.strftime("%d/%m/%Y"))

    # The clock moves to D-5 at 08:05: the first reminder goes, by SMS.
    target = datetime(d5.year, d5.month, d5.day, 8, 5, tzinfo=VN)
    runner.advance(int((target - today(runner)).total_seconds()))
    deadline = time.time() + 30
    sent = []
    while time.time() < deadline:
        _, body = runner.call("GET", f"/v1/customers/{investment}/messages")
        sent = [m for m in body["items"] if m.get("template") == "nhac-tra-gop-sms"]
        if sent and sent[0]["status"] == "sent":
            break
        time.sleep(0.5)
    assert len(sent) == 1 and sent[0]["status"] == "sent", sent

    # A day went by: the session has expired, as it would overnight.
    switch(page, runner, "hoa.ngo")
    page.goto(f"{runner.url}/app/customers/{investment}/contracts")
    plan = page.locator("article.plan").first
    plan.locator("input[name=amount]").fill("2.039.800")
    plan.locator("input[name=payment_id]").fill("PT-THANH-1")
    plan.locator(".payment-form button").click()
    plan = page.locator("article.plan").first
    expect(plan.locator(".schedule tbody tr").first).to_contain_text("Đã thanh toán")
    second_d5 = next_month(first_due) - timedelta(days=5)
    expect(plan.locator(".plan-next")).to_have_text(second_d5.strftime("%d/%m/%Y"))
    expect(plan.locator(".payments")).to_contain_text("PT-THANH-1")
    axe_clean(page)
    shot(page, "19-tra-gop")

    # D-1 of the paid instalment: nothing more is sent.
    d1 = first_due - timedelta(days=1)
    target = datetime(d1.year, d1.month, d1.day, 8, 5, tzinfo=VN)
    runner.advance(int((target - today(runner)).total_seconds()))
    time.sleep(3)
    _, body = runner.call("GET", f"/v1/customers/{investment}/messages")
    assert len([m for m in body["items"] if m.get("template") == "nhac-tra-gop-sms"]) == 1


def test_reminder_settings_and_templates_are_the_admins(runner, page, investment):
    sign_in(page, runner, "hoa.ngo")
    assert page.goto(f"{runner.url}/app/admin/reminders").status == 404
    switch(page, runner, "admin")
    page.goto(f"{runner.url}/app/admin/reminders")
    expect(page.locator("#r-ladder")).to_have_value("D-5, D-1, D0, D+1, D+3")
    page.fill("#r-ladder", "D-3, D0, D+2")
    page.click("#reminders-form button")
    expect(page.locator("#r-ladder")).to_have_value("D-3, D0, D+2")
    page.fill("#r-ladder", "D+2, D-3")
    page.click("#reminders-form button")
    expect(page.locator("#reminders-problem")).to_be_visible()
    page.fill("#r-ladder", "D-5, D-1, D0, D+1, D+3")
    page.click("#reminders-form button")
    sms = page.locator("#tpl-chuc-mung-sinh-nhat-sms")
    sms.locator("summary").click()
    sms.locator("textarea[name=text]").fill("{{ organisation.name }} chúc mừng sinh nhật {{ customer.salutation }}!")
    sms.locator("button").click()
    expect(page.locator("#tpl-chuc-mung-sinh-nhat-sms summary")).to_contain_text("phiên bản 2")
    # A misspelt variable is refused by the template check, nothing published.
    sms = page.locator("#tpl-chuc-mung-sinh-nhat-sms")
    sms.locator("summary").click()
    sms.locator("textarea[name=text]").fill("Chúc mừng {{ customer.salutaton }}")
    sms.locator("button").click()
    expect(page.locator("#reminders-problem")).to_be_visible()
    expect(page.locator("#tpl-chuc-mung-sinh-nhat-sms summary")).to_contain_text("phiên bản 2")
    axe_clean(page)
    shot(page, "20-nhac-nho-va-loi-chuc")
