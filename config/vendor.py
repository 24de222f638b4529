"""The front-end files the pages use, taken from the npm packages installed at set-up (package.json).

Only these are collected and served under /static/vendor/: the rest of node_modules (test tools such as axe-core,
sources, other builds) never reaches a browser. A page that needs another file adds it here.
"""

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

PREFIX = "vendor"

#: Paths inside node_modules, with the source maps and fonts the files themselves refer to.
VENDOR_FILES = (
    "bootstrap/dist/css/bootstrap.css",
    "bootstrap/dist/css/bootstrap.css.map",
    "bootstrap/dist/js/bootstrap.bundle.js",
    "bootstrap/dist/js/bootstrap.bundle.js.map",
    "bootstrap-icons/font/bootstrap-icons.css",
    "bootstrap-icons/font/fonts/bootstrap-icons.woff",
    "bootstrap-icons/font/fonts/bootstrap-icons.woff2",
    "chart.js/dist/chart.umd.js",
    "chart.js/dist/chart.umd.js.map",
    "htmx.org/dist/htmx.js",
    # The service worker's Workbox (templates/sw.js): the loader and the modules it imports.
    "workbox-sw/build/workbox-sw.js",
    "workbox-sw/build/workbox-sw.js.map",
    *(f"workbox-{name}/build/workbox-{name}.prod.js{map}" for name in ("core", "routing", "strategies", "expiration")
      for map in ("", ".map")),
)


def node_modules():
    return Path(getattr(settings, "NODE_MODULES", settings.BASE_DIR / "node_modules"))


class VendorFinder(BaseFinder):
    """Finds `vendor/<path>` for the paths in VENDOR_FILES only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=node_modules())
        self.storage.prefix = PREFIX

    def check(self, **kwargs):
        missing = [path for path in VENDOR_FILES if not (node_modules() / path).is_file()]
        if missing:
            return [Error(f"Front-end files missing from node_modules: {', '.join(missing)}",
                          hint="Run `make setup` (npm ci).", id="uythac.E001")]
        return []

    def find(self, path, find_all=False, **kwargs):
        name = path.removeprefix(f"{PREFIX}/")
        if name == path or name not in VENDOR_FILES:
            return []
        found = str(node_modules() / name)
        return [found] if find_all else found

    def list(self, ignore_patterns):
        for path in VENDOR_FILES:
            if (node_modules() / path).is_file():
                yield path, self.storage
