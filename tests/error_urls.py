"""The project's URLs plus one page that fails, to see the 500 page (tests/test_error_pages.py)."""

from django.urls import path

from config.urls import handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as project_urls


def broken(request):
    raise RuntimeError("a failing page")


urlpatterns = [path("broken/", broken), *project_urls]
