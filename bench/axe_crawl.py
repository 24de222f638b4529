"""Run axe-core (WCAG 2.1 A/AA) over a running server's pages, as each demo role, and print what it finds.

    make run   # or any server with seed_demo's users
    .venv/bin/python bench/axe_crawl.py http://127.0.0.1:8000 [--password uythac-demo] [--pages 40] [--width 1366]

Starting from the home page, it follows in-app links breadth-first and visits one page per URL shape (numbers
replaced by N), so that every template is seen once with the demo's volume of data. Serious and critical
violations are printed with their elements; the last line counts them per impact.
"""

import argparse
import re
import sys
from collections import Counter, deque
from pathlib import Path
from urllib.parse import urljoin, urlparse

from playwright.sync_api import sync_playwright

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SKIP = re.compile(r"/(accounts/logout|i18n|admin|static)/|\.(xlsx|csv|txt|pdf)$|/print/|download=|/04td/$")


def shape(path):
    return re.sub(r"\d+", "N", path)


def crawl(browser, base, username, password, limit, width):
    context = browser.new_context(viewport={"width": width, "height": 860}, locale="vi-VN", bypass_csp=True)
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    seen, queue, found = set(), deque(["/"]), Counter()
    while queue and len(seen) < limit:
        path = queue.popleft()
        if shape(path) in seen:
            continue
        seen.add(shape(path))
        response = page.goto(urljoin(base, path), wait_until="load")
        if not response or "text/html" not in response.headers.get("content-type", ""):
            continue
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", TAGS
        )
        for violation in result["violations"]:
            found[violation["impact"]] += 1
            if violation["impact"] in ("serious", "critical"):
                print(f"{username} {path}: {violation['id']} ({violation['impact']}) {violation['help']}")
                for node in violation["nodes"][:5]:
                    print(f"    {' '.join(node['target'])}: {node.get('failureSummary', '').splitlines()[-1:]}")
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            url = urlparse(urljoin(base + path, href))
            if url.netloc == urlparse(base).netloc and not SKIP.search(url.path) and shape(url.path) not in seen:
                queue.append(url.path + (f"?{url.query}" if url.query and "page=" not in url.query else ""))
    context.close()
    return len(seen), found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--password", default="uythac-demo")
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--width", type=int, default=1366)
    parser.add_argument("--users", default="ward,district,front,admin")
    args = parser.parse_args()
    totals = Counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        for username in args.users.split(","):
            pages, found = crawl(browser, args.base.rstrip("/"), username, args.password, args.pages, args.width)
            print(f"# {username}: {pages} pages, violations by impact {dict(found)}")
            totals += found
        browser.close()
    print(f"# total: {dict(totals)}")
    return 1 if totals["serious"] or totals["critical"] else 0


if __name__ == "__main__":
    sys.exit(main())
