"""The Zalo OA page in a real browser: an admin installs the Official Account's token pair
(a malformed one is refused and nothing is stored), sees when its tokens expire and who
installed it, and never sees a token again; a consultant does not reach the page."""

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from conftest import shot, sign_in

ACCESS = "oa-access-token-0123456789abcdef"
REFRESH = "oa-refresh-token-fedcba9876543210"


def switch(page, runner, username):
    page.goto(runner.url + "/app/sign-in")
    if page.locator("text=Đăng xuất").count():
        page.click("text=Đăng xuất")
    sign_in(page, runner, username)


def install(page, access, refresh, hours="25"):
    page.fill("#zalo-access", access)
    page.fill("#zalo-refresh-token", refresh)
    page.fill("#zalo-hours", hours)
    page.click("#zalo-install button[type=submit]")


def test_an_admin_installs_the_zalo_oa_token_pair_and_no_one_else_reaches_it(runner, page):
    runner.add_team("tvzl", "Tư vấn Zalo", "")
    runner.add_user("kim.ly", "Lý Thị Kim", "consultant", "tvzl")
    sign_in(page, runner, "kim.ly")
    assert page.locator("nav >> text=Zalo OA").count() == 0
    assert page.goto(f"{runner.url}/app/admin/zalo").status == 404

    switch(page, runner, "admin")
    page.click("nav >> text=Zalo OA")
    expect(page.locator("#zalo-state")).to_contain_text("Chưa cài token")
    # The local runner has no Zalo app: tokens are not refreshed, and the page says so.
    expect(page.locator("#zalo-refresh")).to_contain_text("Tự làm mới: tắt")
    assert page.locator("#zalo-connect").count() == 0

    # A token with a space, or a lifetime beyond 90 days: refused, nothing stored.
    install(page, "token có dấu cách", REFRESH)
    expect(page.locator("#zalo-problem")).to_contain_text("không hợp lệ")
    expect(page.locator("#zalo-state")).to_contain_text("Chưa cài token")
    install(page, ACCESS, REFRESH, hours="9999")
    expect(page.locator("#zalo-problem")).to_contain_text("số giờ")
    expect(page.locator("#zalo-state")).to_contain_text("Chưa cài token")

    install(page, ACCESS, REFRESH)
    expect(page.locator(".flash")).to_contain_text("Đã cài cặp token")
    expect(page.locator("#zalo-state")).to_have_text("Đang hoạt động")
    expect(page.locator("#zalo-installed")).to_contain_text("admin")
    stamp = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}$")
    expect(page.locator("#zalo-access-expires")).to_have_text(stamp)
    expect(page.locator("#zalo-refresh-expires")).to_have_text(stamp)
    html = page.content()
    assert ACCESS not in html and REFRESH not in html, "a token is never shown"
    problems = [f"{v['id']} ({v['impact']}): {v['help']}"
                for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert problems == []
    shot(page, "21-zalo-oa")
