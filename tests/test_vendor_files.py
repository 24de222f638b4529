"""Only the front-end files the pages use are collected and served under /static/vendor/: not test tools, sources
or other builds from node_modules."""

import re
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders

from config.vendor import VENDOR_FILES

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def test_every_vendor_file_a_template_uses_is_served():
    used = {
        match
        for template in TEMPLATES.rglob("*.html")
        for match in re.findall(r"""static ['"]vendor/([^'"]+)['"]""", template.read_text(encoding="utf-8"))
    }
    assert used, "the pages load Bootstrap, htmx and Chart.js from /static/vendor/"
    assert used <= set(VENDOR_FILES)
    for path in used:
        assert finders.find(f"vendor/{path}"), path


def test_nothing_else_from_node_modules_is_served():
    for path in ("vendor/axe-core/axe.js", "vendor/bootstrap/package.json", "vendor/chart.js/dist/chart.js",
                 "vendor/htmx.org/dist/htmx.min.js", "vendor/.package-lock.json"):
        assert finders.find(path) is None, path
    listed = {path for finder in finders.get_finders() for path, _storage in finder.list([])}
    assert not any("axe-core" in path or path.endswith("package.json") for path in listed)
