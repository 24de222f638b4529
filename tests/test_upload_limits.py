"""No upload can make the server read a body it would refuse: a body declared too large is answered 413 from its
Content-Length before a byte of it is read, and a bank file that is not a spreadsheet is refused at its part header,
in the app's layout and language. (A file just over the limit, within the form's margin, is refused by the form on
the page: tests/test_bank_import.py::test_upload_cap.)"""

import io

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from loans.models import ImportBatch

pytestmark = pytest.mark.django_db
UPLOAD = "loans:bank_import_list"


class UnreadBody:
    """A request body that must never be read."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


class CountingBody(io.BytesIO):
    """A request body that counts what the server read of it."""

    def __init__(self, data):
        super().__init__(data)
        self.taken = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = super().readline(size)
        self.taken += len(line)
        return line


def in_english(client):
    client.cookies["django_language"] = "en"  # pages follow the officer's language, not the test's
    return client


def post_body(client, path, body, length, content_type=MULTIPART_CONTENT):
    return client.generic(
        "POST", path, b"", content_type=content_type, CONTENT_TYPE=content_type, CONTENT_LENGTH=str(length),
        **{"wsgi.input": body},
    )


def multipart(file_name, size, kind="loans"):
    upload = io.BytesIO(b"x" * size)
    upload.name = file_name
    return encode_multipart(BOUNDARY, {"kind": kind, "file": upload})


def test_an_upload_declared_larger_than_the_limit_is_refused_unread(client_for, admin_user, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
    response = post_body(client_for(admin_user), reverse(UPLOAD), UnreadBody(), 60 * 1024 * 1024)

    assert response.status_code == 413
    page = response.content.decode()
    assert 'data-testid="error-page"' in page and "<nav" in page  # the app's layout, with its menu
    # The site's language (Vietnamese): the limit the officer must keep to.
    assert "chỉ nhận tệp tối đa 50 MB" in page
    assert reverse(UPLOAD) in page  # back to the upload form
    assert not ImportBatch.objects.exists()


def test_any_other_page_refuses_a_body_larger_than_its_form_limit_unread(client_for, ward_officer_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    response = post_body(
        in_english(client_for(ward_officer_a)), reverse("organizations:group_create"), UnreadBody(), 20 * 1024 * 1024,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert "more than the 1.0 MB this page accepts" in response.content.decode()


def test_an_anonymous_oversized_post_to_the_login_page_is_refused_unread(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    response = post_body(client, reverse("login"), UnreadBody(), 5 * 1024 * 1024,
                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413


def test_a_file_that_is_no_spreadsheet_is_refused_at_its_part_header(client_for, admin_user):
    data = multipart("payroll.exe", 5 * 1024 * 1024)
    body = CountingBody(data)
    response = post_body(in_english(client_for(admin_user)), reverse(UPLOAD), body, len(data))

    assert response.status_code == 415
    assert "Upload an .xlsx, .xls or .csv file." in response.content.decode()
    assert body.taken < 1024 * 1024  # the parser stopped at the part's header: the 5 MB were never read
    assert not ImportBatch.objects.exists()


def test_a_spreadsheet_within_the_limit_goes_through_to_the_form(client_for, admin_user):
    data = multipart("du-no.csv", 10)
    response = post_body(client_for(admin_user), reverse(UPLOAD), CountingBody(data), len(data))
    # Through the middleware to the page, which reads and refuses the content itself (no header row).
    assert response.status_code == 302
    assert ImportBatch.objects.count() == 1
