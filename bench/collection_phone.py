"""Collection day on a phone over slow 3G: a 40-row 13/TD filled row by row, then posted.

    DEBUG=1 .venv/bin/python bench/collection_phone.py              # SQLite file in a temporary folder
    DEBUG=1 .venv/bin/python bench/collection_phone.py --rows 40 --network slow3g

Options: --rows 40 (households on the sheet), --network slow3g | fast3g | none.

What it does, and stops by itself:
1. Setup. A fresh SQLite database in a temporary folder is migrated and given one ward, its Women's Union branch, a
   ward officer and a group of --rows borrowing households, each with a 12-month loan disbursed a month before
   today; a draft 13/TD for today is prepared by the service, as the officer's "Lập bảng kê" does.
2. The app runs on a free port of 127.0.0.1 (manage.py runserver, DEBUG, no reloader).
3. Chromium (390 × 844, touch) with Chrome's network emulation: slow 3G is DevTools' preset (2,000 ms round trip,
   about 400 kbit/s each way). The officer signs in, opens the sheet (first visit: nothing cached), then for each
   row types what was paid and leaves the row, as at the table; every row is saved when it is left. After the last
   row has been saved, the officer posts the sheet and waits for the posted page.
The app runs with DEBUG (runserver), so its CSS and scripts travel uncompressed on the first page: signing in is
slower than behind WhiteNoise's compressed files in production. The service worker is blocked in this browser, so
that every request is counted on the page's own connection.
Prints: time to open the sheet, time to fill the rows (typing at a person's pace is not counted: the keystrokes are
sent at once, so the figure is the waiting on the network), time from the last row left to every row saved, time
to post, and the bytes sent and received in each phase (request bodies and headers as Chromium counts them).
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "bench-phone-password"
#: Chrome DevTools' presets: round trip in ms, throughput in bytes per second.
NETWORKS = {
    "slow3g": {"latency": 2000, "downloadThroughput": 500 * 1024 / 8 * 0.8, "uploadThroughput": 500 * 1024 / 8 * 0.8},
    "fast3g": {"latency": 562.5, "downloadThroughput": 1.6 * 1024 * 1024 / 8 * 0.9,
               "uploadThroughput": 750 * 1024 / 8 * 0.9},
}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build(rows):
    """The ward, officer, group and a draft sheet of `rows` households for today. -> sheet id."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from loans.models import LoanProgram
    from loans.services.collection import collection_sheet_create
    from organizations.models import OfficerProfile, Organization
    from tests.factories import (
        BranchFactory,
        DistrictOrganizationFactory,
        HouseholdFactory,
        LoanFactory,
        SavingsGroupFactory,
        WardFactory,
        officer,
    )

    ward = WardFactory(code="900001", name="Phường Bến Thành")
    district = DistrictOrganizationFactory(area=ward.area, kind=Organization.Kind.WOMEN, name="Hội LHPN thành phố")
    branch = BranchFactory(ward=ward, kind=Organization.Kind.WOMEN, parent=district)
    group = SavingsGroupFactory(branch=branch, code="8100001", name="Tổ khu phố 1")
    user = officer("ward", branch, OfficerProfile.Role.WARD_OFFICER)
    user.set_password(PASSWORD)
    user.save()
    today = timezone.localdate()
    while today.weekday() >= 5:
        today -= timedelta(days=1)
    program = LoanProgram.objects.get(code="01") if LoanProgram.objects.filter(code="01").exists() else None
    for number in range(rows):
        household = HouseholdFactory(group=group, head_name=f"Nguyễn Thị Hộ {number + 1:02d}")
        LoanFactory(household=household, disbursed_on=today - timedelta(days=31),
                    **({"program": program} if program else {}))
    sheet = collection_sheet_create(group=group, on=today, actor=user)
    return sheet.pk


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--network", choices=[*NETWORKS, "none"], default="slow3g")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="uythac-phone-bench-"))
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
           "DJANGO_SETTINGS_MODULE": "config.settings", "SESSION_COOKIE_AGE": "86400"}
    os.environ.update(env)
    started = time.perf_counter()
    sheet_id = build(args.rows)
    print(f"Database built in {time.perf_counter() - started:.1f} s: {args.rows} households on one draft 13/TD")

    port = free_port()
    server = subprocess.Popen(
        [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        for _attempt in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        run_phone(f"http://127.0.0.1:{port}", sheet_id, args)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def run_phone(base, sheet_id, args):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        # The CSP is bypassed only so that the bench can wait on the page's state (wait_for_function evaluates).
        # The service worker is kept out: its requests would not be counted here (they are the worker's own).
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                      locale="vi-VN", bypass_csp=True, service_workers="block")
        page = context.new_page()
        page.set_default_timeout(120_000)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        traffic = {"sent": 0, "received": 0}

        def on_sent(event):
            request = event["request"]
            traffic["sent"] += len(request.get("postData", "") or "") + sum(
                len(k) + len(v) + 4 for k, v in request.get("headers", {}).items()) + len(request["url"]) + 16

        cdp.on("Network.requestWillBeSent", on_sent)
        cdp.on("Network.loadingFinished", lambda event: traffic.__setitem__(
            "received", traffic["received"] + event.get("encodedDataLength", 0)))
        if args.network != "none":
            cdp.send("Network.emulateNetworkConditions", {"offline": False, **NETWORKS[args.network]})

        def phase(name, work):
            traffic.update(sent=0, received=0)
            began = time.perf_counter()
            work()
            took = time.perf_counter() - began
            print(f"{name:<36} {took:7.1f} s   sent {traffic['sent'] / 1024:7.1f} KB   "
                  f"received {traffic['received'] / 1024:7.1f} KB")
            return took

        print(f"Network: {args.network}; Chromium 390 × 844")

        def sign_in():
            page.goto(f"{base}/accounts/login/")
            page.fill("input[name=username]", "ward")
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.click("button[type=submit]")

        def open_sheet():
            page.goto(f"{base}/loans/collections/{sheet_id}/")
            page.wait_for_selector("#collection-form tr[data-line]")

        rows = []

        def fill():
            rows.extend(page.locator("tr[data-line]").all())
            for row in rows:
                due = row.locator("button[data-fill]").inner_text().strip()
                row.locator("input[data-column=paid]").fill(due)
                row.locator("input[data-column=savings_in]").fill("50.000")
                row.locator("input[data-column=savings_in]").blur()  # leaves the row: it is sent

        def all_saved():
            page.wait_for_function(
                f"document.querySelectorAll('tr[data-state=saved]').length === {len(rows)}", timeout=600_000)

        def post():
            page.once("dialog", lambda dialog: dialog.accept())
            with page.expect_navigation(timeout=300_000):
                page.locator("[data-testid=sheet-bar] button[data-post]").click()
            page.wait_for_selector("[data-testid=sheet-status]")
            assert "Đã ghi sổ" in page.inner_text("[data-testid=sheet-status]"), page.inner_text("main")[:500]

        phase("Sign in", sign_in)
        phase("Open the sheet (nothing cached)", open_sheet)
        fill_time = phase(f"Fill {args.rows} rows (each sent on leaving)", fill)
        wait_time = phase("… until every row is saved", all_saved)
        post_time = phase("Post the sheet", post)
        print(f"Filled and saved: {fill_time + wait_time:.1f} s for {len(rows)} rows "
              f"({(fill_time + wait_time) / max(len(rows), 1):.2f} s a row); posted in {post_time:.1f} s")
        browser.close()


if __name__ == "__main__":
    main()
