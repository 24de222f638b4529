"""The app on a phone's home screen, and collection sheets that open without a connection.

The web app manifest names the app and its icons. The service worker (Workbox, from npm, served by the app like every
other front-end file) keeps each collection sheet the officer opens, so that it opens again when the signal drops at
the transaction point; what the officer types there is kept by the page itself (static/js/collections.js).
"""

import json

from django.http import JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

#: The Workbox modules the service worker loads, from their npm packages (config/vendor.py serves them).
WORKBOX_MODULES = ("core", "routing", "strategies", "expiration")


@require_GET
@cache_control(max_age=3600)
def manifest(request):
    icon = static("img/icons/icon-512.png")
    return JsonResponse(
        {
            "name": _("Ủy thác – entrusted loans"),
            "short_name": "Ủy thác",
            "lang": request.LANGUAGE_CODE,
            "start_url": reverse("organizations:home"),
            "scope": "/",
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#0d6efd",
            "icons": [
                {"src": static("img/icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
                {"src": icon, "sizes": "512x512", "type": "image/png"},
                {"src": static("img/icons/icon-maskable-512.png"), "sizes": "512x512", "type": "image/png",
                 "purpose": "maskable"},
            ],
            "shortcuts": [{"name": _("Collection day"), "url": reverse("loans:collection_sheet_list")}],
        },
        content_type="application/manifest+json",
        json_dumps_params={"ensure_ascii": False},
    )


@require_GET
@cache_control(no_cache=True)
def service_worker(request):
    """Served from the site's root, so that it may look after every page's requests (a worker's scope is its path)."""
    modules = {f"workbox-{name}": static(f"vendor/workbox-{name}/build/workbox-{name}.prod.js")
               for name in WORKBOX_MODULES}
    return render(request, "sw.js", {"modules": json.dumps(modules)}, content_type="application/javascript; charset=utf-8")
