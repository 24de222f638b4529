"""A refused request is logged as one warning line naming the user and the path, without a traceback."""

import logging

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_403_is_one_warning_line_with_user_and_path(client_for, front_supervisor, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client_for(front_supervisor).post(reverse("loans:collection_sheet_create"), {})
    assert response.status_code == 403
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert record.getMessage() == f"Forbidden: POST {reverse('loans:collection_sheet_create')} (user front)"
