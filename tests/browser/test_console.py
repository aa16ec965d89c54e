"""The staff console in a real browser (Debian's chromium): sign-in per role, the lead flow of
seed 002 and the care flow of seed 003, scopes, CSRF, escaping, and accessibility (axe-core).
Screenshots of each screen are written to docs/console/."""

import datetime as dt
import json
import re
import time

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from conftest import PASSWORD, shot, sign_in


@pytest.fixture(scope="module", autouse=True)
def directory(runner):
    """Teams and staff: Hà Nội's manager and two consultants, two agents of a reseller."""
    runner.add_team("hn", "Phòng tư vấn Hà Nội", "")
    runner.add_team("dl", "Đại lý phần mềm", "")
    runner.add_user("hoa", "Nguyễn Thị Hoa", "manager", "hn")
    runner.add_user("lan", "Trần Thị Lan", "consultant", "hn")
    runner.add_user("minh", "Lê Văn Minh", "consultant", "hn")
    runner.add_user("an", "Phạm Văn An", "agent", "dl")
    runner.add_user("binh", "Đỗ Thị Bình", "agent", "dl")
    runner.add_user("khoa", "Vũ Đăng Khoa", "consultant", "hn")
    return runner


def menu_labels(page):
    return [label.strip() for label in page.locator("nav .menu a").all_inner_texts()]


def test_each_role_signs_in_sees_its_menu_and_signs_out(runner, page):
    expected_admin = {"Nhân sự", "Nhóm"}
    for username in ["admin", "hoa", "lan", "an"]:
        sign_in(page, runner, username)
        labels = " ".join(menu_labels(page))
        for label in ["Trang chủ", "KH mới chưa tư vấn", "Khách hàng chăm sóc", "Thông báo"]:
            assert label in labels, (username, labels)
        if username == "admin":
            assert all(label in labels for label in expected_admin)
        else:
            assert not any(label in labels for label in expected_admin), (username, labels)
            # Typing the admin page's address shows the not-found page.
            response = page.goto(runner.url + "/app/admin/users")
            assert response.status == 404
            page.goto(runner.url + "/app")
        page.click("text=Đăng xuất")
        page.wait_for_url(re.compile(r"/app/sign-in"))
        page.goto(runner.url + "/app/care")
        assert "/app/sign-in" in page.url, "a signed-out browser is sent to sign in"


def test_a_wrong_password_is_refused_and_five_lock_the_name(runner, page):
    page.goto(runner.url + "/app/sign-in")
    shot(page, "01-dang-nhap")
    for attempt in range(5):
        page.fill("#username", "khoa")
        page.fill("#password", f"sai-mat-khau-{attempt}")
        page.click("button[type=submit]")
        expect(page.locator(".error")).to_contain_text("Sai tên đăng nhập hoặc mật khẩu")
    page.fill("#username", "khoa")
    page.fill("#password", runner.passwords["khoa"])
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("quá nhiều lần")


def test_admin_creates_a_consultant_who_signs_in_with_a_new_password(runner, page):
    sign_in(page, runner, "admin")
    page.click("nav >> text=Nhân sự")
    page.fill("#u-name", "thu")
    page.fill("#u-display", "Hoàng Minh Thư")
    page.select_option("#u-role", "consultant")
    page.select_option("#u-team", "hn")
    page.select_option("#u-manager", "hoa")
    page.fill("#u-ext", "2031")
    page.fill("#u-password", "Tam-thoi-12345")
    page.click("#user-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Đã lưu người dùng thu")
    expect(page.locator("#users")).to_contain_text("Hoàng Minh Thư")
    shot(page, "09-nhan-su")
    page.click("text=Đăng xuất")
    runner.passwords["thu"] = "Tam-thoi-12345"
    page.fill("#username", "thu")
    page.fill("#password", "Tam-thoi-12345")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/app/password"))
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/app(\?.*)?$"))
    expect(page.locator(".me")).to_contain_text("Hoàng Minh Thư")
    runner.passwords["thu"] = PASSWORD


def test_a_web_lead_appears_in_the_inbox_and_its_count(runner, page):
    sign_in(page, runner, "admin")
    page.goto(runner.url + "/app/leads")
    before = int(page.locator('nav a[href="/app/leads"] .badge').inner_text())
    unread = int(page.locator("#bell .badge").inner_text())
    runner.lead("Nguyễn Thị Mai", "0912 345 678", email="mai.nguyen@example.vn", utm_source="facebook")
    page.goto(runner.url + "/app/leads")
    # The lead has no team yet: the intake owner's bell rings (unset here: the admins').
    assert int(page.locator("#bell .badge").inner_text()) == unread + 1
    row = page.locator("#leads tr", has_text="Nguyễn Thị Mai")
    expect(row).to_contain_text("Đăng ký qua website · facebook")
    expect(row).to_contain_text("+84912345678")
    assert int(page.locator('nav a[href="/app/leads"] .badge').inner_text()) == before + 1
    shot(page, "02-kh-moi-chua-tu-van")
    # Signing in again shows the notice of leads waiting (seed 002).
    page.click("text=Đăng xuất")
    sign_in(page, runner, "admin")
    expect(page.locator("#welcome")).to_contain_text("KH mới chưa tư vấn")
    shot(page, "00-trang-chu")


def test_assigning_a_lead_and_logging_a_call_moves_it_to_consulting(runner, page):
    runner.lead("Phạm Minh Tuấn", "0903 111 222", utm_source="google")
    sign_in(page, runner, "admin")
    page.goto(runner.url + "/app/leads")
    row = page.locator("#leads tr", has_text="Phạm Minh Tuấn")
    expect(row).to_be_visible()
    row.locator("select").select_option("lan")
    row.locator("button").click()
    expect(page.locator(".flash")).to_contain_text("Trần Thị Lan")
    page.click("text=Đăng xuất")
    # The manager of Lan's team sees the lead too, and may hand it only to her team.
    sign_in(page, runner, "hoa")
    page.goto(runner.url + "/app/leads")
    row = page.locator("#leads tr", has_text="Phạm Minh Tuấn")
    options = row.locator("select option").all_inner_texts()
    assert any("Lê Văn Minh" in o for o in options) and not any("Phạm Văn An" in o for o in options)
    page.click("text=Đăng xuất")

    sign_in(page, runner, "lan")
    page.goto(runner.url + "/app/leads")
    page.click("#leads >> text=Phạm Minh Tuấn")
    expect(page.locator("#lifecycle")).to_have_text("KH mới chưa tư vấn")
    page.select_option("#q-kind", "call")
    page.select_option("#q-dir", "outbound")
    page.select_option("#q-out", "answered")
    page.fill("#q-dur", "5")
    page.fill("#q-notes", "Giới thiệu BCC lãi 6%/năm")
    page.fill("#q-feedback", "Quan tâm, hẹn gặp thứ Sáu")
    page.select_option("#q-class", "potential")
    page.click("#quick button[type=submit]")
    expect(page.locator("#lifecycle")).to_have_text("KH đang tư vấn")
    expect(page.locator("#timeline")).to_contain_text("Gọi điện")
    expect(page.locator("#timeline")).to_contain_text("5 phút · Giới thiệu BCC lãi 6%/năm · Khách: Quan tâm, hẹn gặp thứ Sáu")
    shot(page, "04-khach-hang-360")
    page.goto(runner.url + "/app/leads")
    expect(page.locator("body")).not_to_contain_text("Phạm Minh Tuấn")


def vn_now(runner):
    status, clock = runner.call("GET", "/local/clock", token=False)
    return dt.datetime.fromisoformat(clock["now_vn"])


def test_a_next_action_rings_the_bell_when_it_falls_due(runner, page):
    customer = runner.customer(full_name="Đặng Quốc Việt", phones=["0987 000 111"])
    runner.assign(customer["id"], "lan", "hn")
    sign_in(page, runner, "lan")
    unread = int(page.locator("#bell .badge").inner_text())
    page.goto(runner.url + f"/app/customers/{customer['id']}")
    tomorrow = vn_now(runner) + dt.timedelta(days=1)
    page.select_option("#q-kind", "note")
    page.fill("#q-notes", "Khách hẹn gọi lại")
    page.select_option("#q-next-kind", "call")
    page.fill("#q-next-date", tomorrow.strftime("%d/%m/%Y"))
    page.fill("#q-next-time", "09:30")
    page.fill("#q-next-note", "Gọi lại tư vấn gói BCC")
    page.click("#quick button[type=submit]")
    expect(page.locator("#next-actions")).to_contain_text(tomorrow.strftime("%d/%m/%Y") + " 09:30")
    runner.advance(2 * 86400)
    # Two simulated days outlast the 12-hour session: sign in again, as the next morning.
    sign_in(page, runner, "lan")
    deadline = time.time() + 30
    while time.time() < deadline:
        page.goto(runner.url + "/app")
        if int(page.locator("#bell .badge").inner_text()) > unread:
            break
        time.sleep(0.5)
    assert int(page.locator("#bell .badge").inner_text()) == unread + 1
    page.click("#bell")
    expect(page.locator(".notices")).to_contain_text("Đặng Quốc Việt")
    shot(page, "05-thong-bao")


@pytest.fixture(scope="module")
def care_customers(runner):
    """Customers holding a software subscription, as the reseller's care screen shows them."""
    runner.call("POST", "/v1/catalogue/products", {"code": "hoa-don-dien-tu", "name": "Hoá đơn điện tử",
                                                   "kind": "software_subscription"})
    runner.call("POST", "/v1/catalogue/products", {"code": "ke-toan-online", "name": "Kế toán online",
                                                   "kind": "software_subscription"})
    runner.call("POST", "/v1/catalogue/usage-reasons", {"code": "chua-cai-dat", "label": "Chưa cài đặt",
                                                        "applies_to": "not_yet_using"})
    runner.call("POST", "/v1/catalogue/usage-reasons", {"code": "chuyen-nha-cung-cap",
                                                        "label": "Chuyển nhà cung cấp khác",
                                                        "applies_to": "stopped"})
    made = {}
    rows = [
        ("Công ty TNHH Ánh Dương", "0101234565", "001085012345", "using", None, "2027-01-15", 0.8, "an", "potential"),
        ("Công ty CP Bình Minh", "0109876518", "001090054321", "not_yet_using", "chua-cai-dat", "2026-12-20", 0.95, "an", "urgent"),
        ("Hộ kinh doanh Cẩm Tú", "0312345673", "079088011223", "stopped", "chuyen-nha-cung-cap", "2026-12-10", 0.1, "binh", "not_potential"),
    ]
    for i, (name, mst, cccd, usage, reason, expires, remaining, owner, classification) in enumerate(rows):
        customer = runner.customer(full_name=name, tax_code=mst, cccd=cccd, phones=[f"09770000{i}{i}"],
                                   classification=classification)
        runner.assign(customer["id"], owner, "dl")
        holding = {"product": "hoa-don-dien-tu", "status": "active", "usage_status": usage,
                   "expires_on": expires, "remaining_invoice_ratio": remaining}
        if reason:
            holding["usage_reason"] = reason
        status, body = runner.call("POST", f"/v1/customers/{customer['id']}/holdings", holding)
        assert status == 201, body
        made[name] = customer["id"]
    return made


def care_names(page):
    return sorted(page.locator("#care tbody tr td:first-child").all_inner_texts())


def test_each_care_list_filter_narrows_the_list(runner, page, care_customers):
    sign_in(page, runner, "admin")
    page.goto(runner.url + "/app/care")
    everyone = care_names(page)
    assert set(care_customers) <= set(everyone)
    shot(page, "03-khach-hang-cham-soc")
    cases = [
        ({"#f-name": "anh duong"}, ["Công ty TNHH Ánh Dương"]),
        ({"#f-mst": "0109876518"}, ["Công ty CP Bình Minh"]),
        ({"#f-cccd": "079088011223"}, ["Hộ kinh doanh Cẩm Tú"]),
        ({"#f-from": "01/12/2026", "#f-to": "31/12/2026"}, ["Công ty CP Bình Minh", "Hộ kinh doanh Cẩm Tú"]),
        ({"#f-usage": "stopped"}, ["Hộ kinh doanh Cẩm Tú"]),
        ({"#f-reason": "chua-cai-dat"}, ["Công ty CP Bình Minh"]),
        ({"#f-rmin": "50", "#f-rmax": "90"}, ["Công ty TNHH Ánh Dương"]),
        ({"#f-class": "urgent"}, ["Công ty CP Bình Minh"]),
        ({"#f-owner": "binh"}, ["Hộ kinh doanh Cẩm Tú"]),
        ({"#f-life": "customer", "#f-owner": "an"}, ["Công ty CP Bình Minh", "Công ty TNHH Ánh Dương"]),
    ]
    for fields, expected in cases:
        page.goto(runner.url + "/app/care")
        for selector, value in fields.items():
            if selector in ("#f-usage", "#f-reason", "#f-class", "#f-life"):
                page.select_option(selector, value)
            else:
                page.fill(selector, value)
        page.click("#care-filters button[type=submit]")
        page.wait_for_load_state()
        assert care_names(page) == sorted(expected), fields


def test_an_agent_sees_only_their_own_customers(runner, page, care_customers):
    sign_in(page, runner, "an")
    page.goto(runner.url + "/app/care")
    assert care_names(page) == sorted(["Công ty CP Bình Minh", "Công ty TNHH Ánh Dương"])
    # Another agent's customer, typed by URL: the not-found page, nothing of the customer.
    response = page.goto(runner.url + f"/app/customers/{care_customers['Hộ kinh doanh Cẩm Tú']}")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Không tìm thấy")
    expect(page.locator("body")).not_to_contain_text("Cẩm Tú")
    for path in ["activities", "reason"]:
        response = page.goto(runner.url + f"/app/customers/{care_customers['Hộ kinh doanh Cẩm Tú']}/{path}")
        assert response.status == 404


def test_the_last_ten_activities_open_by_mouse_and_by_keyboard(runner, page, care_customers):
    sign_in(page, runner, "an")
    page.goto(runner.url + "/app/care")
    row = page.locator("#care tbody tr", has_text="Công ty CP Bình Minh")
    row.click(button="right", position={"x": 200, "y": 10})
    menu = row.locator(".row-menu")
    expect(menu).to_be_visible()
    menu.locator("text=Hoạt động phát sinh gần nhất").click()
    expect(page.locator("#activities")).to_contain_text("Hoạt động phát sinh gần nhất: Công ty CP Bình Minh")
    expect(page.locator("#activities table")).to_contain_text("Màn hình thực hiện")
    shot(page, "03b-hoat-dong-gan-nhat")
    # By keyboard: focus the row, Shift+F10 opens its menu, Enter takes the focused item.
    page.goto(runner.url + "/app/care")
    row = page.locator("#care tbody tr", has_text="Công ty TNHH Ánh Dương")
    row.focus()
    page.keyboard.press("Shift+F10")
    expect(row.locator(".row-menu")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#activities")).to_contain_text("Công ty TNHH Ánh Dương")
    # And by the row's menu button, then the second item with the arrow key.
    page.goto(runner.url + "/app/care")
    row = page.locator("#care tbody tr", has_text="Công ty CP Bình Minh")
    row.locator(".menu-button").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#reason")).to_contain_text("Bổ sung lý do chưa/ngưng sử dụng")
    page.keyboard.press("Escape")


def test_a_reason_is_supplied_from_the_menu(runner, page, care_customers):
    runner.call("POST", "/v1/catalogue/usage-reasons", {"code": "chua-dao-tao", "label": "Chưa được đào tạo",
                                                        "applies_to": "not_yet_using"})
    sign_in(page, runner, "an")
    page.goto(runner.url + "/app/care")
    row = page.locator("#care tbody tr", has_text="Công ty CP Bình Minh")
    row.locator(".menu-button").click()
    row.locator("text=Bổ sung lý do chưa/ngưng sử dụng").click()
    form = page.locator("#reason form").first
    form.locator("select").select_option("chua-dao-tao")
    form.locator("button").click()
    expect(page.locator("#reason .flash")).to_contain_text("Đã lưu lý do")
    shot(page, "03c-bo-sung-ly-do")
    page.goto(runner.url + "/app/care")
    expect(page.locator("#care tbody tr", has_text="Công ty CP Bình Minh")).to_contain_text("Chưa được đào tạo")


def test_a_stale_edit_is_refused_with_a_message_and_kept(runner, browser, care_customers):
    customer_id = care_customers["Công ty TNHH Ánh Dương"]
    contexts = [browser.new_context(locale="vi-VN") for _ in range(2)]
    first, second = [context.new_page() for context in contexts]
    sign_in(first, runner, "an")
    sign_in(second, runner, "admin")
    for opened in (first, second):
        opened.goto(runner.url + f"/app/customers/{customer_id}")
        opened.click("text=Sửa hồ sơ")
    first.fill("#p-address", "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh")
    first.click("#profile button[type=submit]")
    expect(first.locator(".flash")).to_contain_text("Đã lưu hồ sơ")
    second.fill("#p-address", "45 Trần Phú, Hà Đông, Hà Nội")
    second.click("#profile button[type=submit]")
    expect(second.locator("#profile-problem")).to_contain_text("vừa được người khác cập nhật")
    expect(second.locator("#p-address")).to_have_value("45 Trần Phú, Hà Đông, Hà Nội")
    shot(second, "06-sua-ho-so-xung-dot")
    # The first edit was not lost.
    status, stored = runner.call("GET", f"/v1/customers/{customer_id}")
    assert stored["address"] == "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh"
    for context in contexts:
        context.close()


def test_a_post_without_the_csrf_token_or_from_another_site_is_refused(runner, page, care_customers):
    customer_id = care_customers["Công ty TNHH Ánh Dương"]
    sign_in(page, runner, "an")
    before = runner.call("GET", f"/v1/customers/{customer_id}/timeline")[1]["items"]
    response = page.request.post(runner.url + f"/app/customers/{customer_id}/interactions",
                                 form={"kind": "note", "notes": "không có mã CSRF"})
    assert response.status == 403
    page.goto(runner.url + f"/app/customers/{customer_id}")
    token = page.locator('#quick input[name="_csrf"]').input_value()
    response = page.request.post(runner.url + f"/app/customers/{customer_id}/interactions",
                                 form={"_csrf": token, "kind": "note", "notes": "từ trang khác"},
                                 headers={"origin": "https://evil.example"})
    assert response.status == 403
    after = runner.call("GET", f"/v1/customers/{customer_id}/timeline")[1]["items"]
    assert len(after) == len(before), "nothing was logged"
    # With the token, from the console itself, it is accepted.
    response = page.request.post(runner.url + f"/app/customers/{customer_id}/interactions",
                                 form={"_csrf": token, "kind": "note", "notes": "có mã CSRF"})
    assert response.status == 200
    assert len(runner.call("GET", f"/v1/customers/{customer_id}/timeline")[1]["items"]) == len(before) + 1


def test_a_script_in_a_customers_name_is_shown_as_text_everywhere(runner, page):
    name = "<script>alert('xss')</script> Hùng"
    runner.lead(name, "0966 555 444")
    customer = runner.find("0966555444")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, runner, "admin")
    page.goto(runner.url + "/app/leads")
    expect(page.locator("main")).to_contain_text(name)
    # Holding a product, the customer leaves the lead inbox for the care list.
    runner.call("POST", f"/v1/customers/{customer['id']}/holdings",
                {"product": "hoa-don-dien-tu", "status": "active", "usage_status": "stopped"})
    for path in ["/app/care", f"/app/customers/{customer['id']}",
                 f"/app/customers/{customer['id']}/activities", f"/app/customers/{customer['id']}/reason",
                 "/app/search?q=Hung"]:
        page.goto(runner.url + path)
        expect(page.locator("main")).to_contain_text(name)
    assert dialogs == []


def test_search_finds_by_name_without_diacritics_phone_email_cccd_and_mst(runner, page, care_customers):
    sign_in(page, runner, "admin")
    for query, expected in [("cam tu", "Hộ kinh doanh Cẩm Tú"), ("0912345678", "Nguyễn Thị Mai"),
                            ("mai.nguyen@example.vn", "Nguyễn Thị Mai"), ("001090054321", "Công ty CP Bình Minh"),
                            ("0101234565", "Công ty TNHH Ánh Dương")]:
        page.fill("#q", query)
        page.press("#q", "Enter")
        expect(page.locator("#hits")).to_contain_text(expected)
    shot(page, "07-tim-kiem")


SCREENS = ["/app", "/app/leads", "/app/care", "/app/notifications", "/app/admin/users", "/app/admin/teams",
           "/app/admin/catalogue", "/app/tickets", "/app/import", "/app/search?q=cong+ty", "/app/tasks",
           "/app/agenda", "/app/admin/work", "/app/tickets?view=overdue"]


def test_no_screen_has_serious_or_critical_accessibility_violations(runner, page, care_customers):
    axe = Axe()
    sign_in(page, runner, "admin")
    bm = care_customers["Công ty CP Bình Minh"]
    screens = SCREENS + [f"/app/customers/{bm}", f"/app/customers/{bm}/activities", f"/app/customers/{bm}/reason",
                         f"/app/customers/{bm}/privacy/restrict", "/app/admin/users/lan"]
    problems = []
    for path in screens:
        page.goto(runner.url + path)
        results = axe.run(page)
        for violation in results.response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                problems.append(f"{path}: {violation['id']} ({violation['impact']}): {violation['help']}")
    page.goto(runner.url + "/app/sign-in")
    page.click("text=Đăng xuất")
    results = axe.run(page)
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            problems.append(f"sign-in: {violation['id']}: {violation['help']}")
    assert problems == []


def test_tickets_a_journey_opens_are_listed_by_queue_in_scope(runner, page):
    status, body = runner.call("POST", "/v1/journeys?publish=true", {
        "key": "goi-kh-moi", "name": "Gọi tư vấn khách hàng mới",
        "trigger": {"type": "event", "event": "lead.created"},
        "start": "phieu",
        "steps": {
            "phieu": {"type": "ticket", "queue": "telesales", "sla": "4h", "title": "Gọi tư vấn KH mới",
                      "next": "het"},
            "het": {"type": "exit"},
        },
    })
    assert status == 201, body
    runner.lead("Lý Thị Ngọc", "0935 222 333")
    sign_in(page, runner, "admin")
    deadline = time.time() + 30
    while time.time() < deadline:
        page.goto(runner.url + "/app/tickets?queue=telesales")
        if page.locator("#tickets", has_text="Lý Thị Ngọc").count():
            break
        time.sleep(0.5)
    row = page.locator("#tickets tr", has_text="Lý Thị Ngọc")
    expect(row).to_contain_text("Gọi tư vấn KH mới")
    shot(page, "07b-phieu")
    # Worked to an outcome: taken, then closed as won, which needs its note.
    row.locator("select").select_option("in_progress")
    row.locator("button").click()
    expect(page.locator(".flash")).to_contain_text("Đã cập nhật phiếu")
    row = page.locator("#tickets tr", has_text="Lý Thị Ngọc")
    expect(row).to_contain_text("Đang xử lý")
    row.locator("select").select_option("won")
    row.locator("button").click()
    expect(page.locator(".flash")).to_contain_text("Ghi kết quả xử lý")
    row = page.locator("#tickets tr", has_text="Lý Thị Ngọc")
    row.locator("select").select_option("won")
    row.locator("input[name=note]").fill("Khách đã đăng ký mở tài khoản")
    row.locator("button").click()
    row = page.locator("#tickets tr", has_text="Lý Thị Ngọc")
    expect(row).to_contain_text("Thành công (đã đăng ký)")
    expect(row).to_contain_text("Khách đã đăng ký mở tài khoản")
    # The customer 360 shows the journey the lead is in, and the outcome on its timeline.
    row.locator("a", has_text="Lý Thị Ngọc").click()
    expect(page.locator("#journeys")).to_contain_text("goi-kh-moi")
    expect(page.locator("#timeline")).to_contain_text("Ticket thành công (đã đăng ký)")
    page.goto(runner.url + "/app/tickets?queue=telesales")
    page.click(".tabs >> text=RM")
    expect(page.locator("main")).not_to_contain_text("Lý Thị Ngọc")
    page.click("text=Đăng xuất")
    # An agent sees no ticket of a customer outside their scope.
    sign_in(page, runner, "an")
    page.goto(runner.url + "/app/tickets?queue=telesales")
    expect(page.locator("main")).not_to_contain_text("Lý Thị Ngọc")


def test_personal_data_actions_need_the_customers_name_typed_back(runner, page, care_customers):
    customer_id = care_customers["Hộ kinh doanh Cẩm Tú"]
    sign_in(page, runner, "binh")
    page.goto(runner.url + f"/app/customers/{customer_id}")
    # An agent may restrict, object and export, not erase.
    expect(page.locator("#privacy")).not_to_contain_text("Xoá dữ liệu cá nhân")
    response = page.goto(runner.url + f"/app/customers/{customer_id}/privacy/erase")
    assert response.status == 403
    page.goto(runner.url + f"/app/customers/{customer_id}")
    page.click("#privacy >> text=Phản đối nhận tiếp thị")
    expect(page.locator("h1")).to_contain_text("Phản đối nhận tiếp thị: Hộ kinh doanh Cẩm Tú")
    page.fill("#typed-name", "Cẩm Tú")
    page.click("#privacy-form button[type=submit]")
    expect(page.locator("#privacy-problem")).to_contain_text("Gõ đúng họ tên")
    assert runner.call("GET", f"/v1/customers/{customer_id}")[1]["marketing_objected"] is False
    shot(page, "08-quyen-du-lieu")
    page.fill("#typed-name", "Hộ kinh doanh Cẩm Tú")
    page.click("#privacy-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Đã ghi nhận yêu cầu về dữ liệu cá nhân")
    expect(page.locator("#privacy")).to_contain_text("Đã phản đối nhận tiếp thị")
    assert runner.call("GET", f"/v1/customers/{customer_id}")[1]["marketing_objected"] is True
    # The export downloads everything held, as JSON.
    page.click("#privacy >> text=Xuất dữ liệu cá nhân")
    page.fill("#typed-name", "Hộ kinh doanh Cẩm Tú")
    with page.expect_download() as download:
        page.click("#privacy-form button[type=submit]")
    path = download.value.path()
    exported = json.loads(open(path, encoding="utf-8").read())
    assert exported["customer"]["full_name"] == "Hộ kinh doanh Cẩm Tú"


def test_an_admin_erases_a_customer_after_confirming(runner, page):
    customer = runner.customer(full_name="Trịnh Văn Xoá", phones=["0944 888 777"])
    sign_in(page, runner, "admin")
    page.goto(runner.url + f"/app/customers/{customer['id']}/privacy/erase")
    page.fill("#reason", "Khách yêu cầu xoá qua tổng đài ngày 01/12/2026")
    page.fill("#typed-name", "Trịnh Văn Xoá")
    page.click("#privacy-form button[type=submit]")
    page.wait_for_url(re.compile(r"/app/care"))
    response = page.goto(runner.url + f"/app/customers/{customer['id']}")
    assert response.status == 404
    assert runner.call("GET", f"/v1/customers/{customer['id']}")[1]["full_name"] != "Trịnh Văn Xoá"


def test_an_admin_adds_products_and_usage_reasons(runner, page):
    sign_in(page, runner, "admin")
    page.click("nav >> text=Sản phẩm")
    page.fill("#p-code", "bcc-12-thang")
    page.fill("#p-name", "Hợp đồng BCC 12 tháng")
    page.select_option("#p-kind", "investment")
    page.click("#product-form button[type=submit]")
    expect(page.locator("#products")).to_contain_text("Hợp đồng BCC 12 tháng")
    page.fill("#r-code", "gia-cao")
    page.fill("#r-label", "Giá cao so với nhu cầu")
    page.select_option("#r-scope", "stopped")
    page.click("#reason-form button[type=submit]")
    expect(page.locator("#reasons")).to_contain_text("Giá cao so với nhu cầu")
    # A code taken is told, with what was typed kept.
    page.fill("#r-code", "gia-cao")
    page.fill("#r-label", "Trùng mã")
    page.click("#reason-form button[type=submit]")
    expect(page.locator(".error")).to_be_visible()
    expect(page.locator("#r-label")).to_have_value("Trùng mã")
    shot(page, "09b-san-pham")
    page.click("text=Đăng xuất")
    sign_in(page, runner, "lan")
    response = page.goto(runner.url + "/app/admin/catalogue")
    assert response.status == 404


def test_a_csv_import_shows_its_progress_and_its_error_report(runner, page, tmp_path):
    rows = ["Họ tên,Số điện thoại,Email"]
    for i in range(300):
        rows.append(f"Khách Tệp {i:03d},0936{i:06d},khach.tep{i:03d}@example.vn")
    rows.append("Không Có Số,12,sai-email")
    path = tmp_path / "khach-hang.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    sign_in(page, runner, "lan")
    page.click("nav >> text=Nhập khách hàng")
    shot(page, "10-nhap-khach-hang")
    page.set_input_files("#file", str(path))
    page.click("#import-form button[type=submit]")
    page.wait_for_url(re.compile(r"/app/import/[0-9a-f]{32}$"))
    expect(page.locator("#import-progress")).to_be_visible()
    expect(page.locator("#import-summary")).to_contain_text("301 dòng", timeout=60_000)
    expect(page.locator("#import-summary")).to_contain_text("300")
    expect(page.locator("#import-summary")).to_contain_text("1 dòng lỗi")
    shot(page, "10b-nhap-xong")
    with page.expect_download() as download:
        page.click("#error-report")
    report = open(download.value.path(), encoding="utf-8-sig").read()
    assert "Không Có Số" in report and "302" in report, report
    # The customers are Lan's now.
    page.fill("#q", "Khách Tệp 150")
    page.press("#q", "Enter")
    expect(page.locator("#hits")).to_contain_text("Khách Tệp 150")
    # A file that is not a customer list is refused at once, nothing queued.
    bad = tmp_path / "sai.csv"
    bad.write_text("Cột lạ\nabc\n", encoding="utf-8")
    page.goto(runner.url + "/app/import")
    page.set_input_files("#file", str(bad))
    page.click("#import-form button[type=submit]")
    expect(page.locator("#import-problem")).to_be_visible()


def test_seed_003s_care_flow_entirely_in_the_browser(runner, page, care_customers):
    """A consultant records the product a customer bought, then cares for it from the care
    list: the last activities and the reason it is not used yet."""
    runner.lead("Võ Thị Hạnh", "0977 123 456")
    sign_in(page, runner, "admin")
    page.goto(runner.url + "/app/leads")
    row = page.locator("#leads tr", has_text="Võ Thị Hạnh")
    row.locator("select").select_option("lan")
    row.locator("button").click()
    page.click("text=Đăng xuất")
    sign_in(page, runner, "lan")
    page.goto(runner.url + "/app/leads")
    page.click("#leads >> text=Võ Thị Hạnh")
    page.click("text=Thêm sản phẩm")
    page.select_option("#h-product", "hoa-don-dien-tu")
    page.select_option("#h-status", "active")
    page.fill("#h-reference", "HDDT-2026-0457")
    page.fill("#h-starts", "01/12/2026")
    page.fill("#h-expires", "30/11/2027")
    page.fill("#h-amount", "1.250.000")
    page.select_option("#h-usage", "not_yet_using")
    page.fill("#h-remaining", "100")
    page.click("#holding-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Đã thêm sản phẩm")
    expect(page.locator("main")).to_contain_text("1.250.000 ₫")
    expect(page.locator("main")).to_contain_text("01/12/2026 – 30/11/2027")
    expect(page.locator("#lifecycle")).to_have_text("Khách hàng")
    page.click("nav >> text=Khách hàng chăm sóc")
    page.fill("#f-name", "vo thi hanh")
    page.click("#care-filters button[type=submit]")
    row = page.locator("#care tbody tr", has_text="Võ Thị Hạnh")
    expect(row).to_contain_text("Chưa sử dụng")
    expect(row).to_contain_text("hết hạn 30/11/2027")
    row.click(button="right", position={"x": 150, "y": 10})
    row.locator("text=Bổ sung lý do chưa/ngưng sử dụng").click()
    page.locator("#reason form select").first.select_option("chua-cai-dat")
    page.locator("#reason form button").first.click()
    expect(page.locator("#reason .flash")).to_contain_text("Đã lưu lý do")
    row = page.locator("#care tbody tr", has_text="Võ Thị Hạnh")
    row.focus()
    page.keyboard.press("Shift+F10")
    page.keyboard.press("Enter")
    expect(page.locator("#activities")).to_contain_text("Thêm sản phẩm")
