"""Request bodies are refused before they are read: from their Content-Length, and a bank file from its name.

The bank file upload page takes IMPORT_MAX_UPLOAD_BYTES; every other address takes DATA_UPLOAD_MAX_MEMORY_SIZE (the
app has no other upload). A body declared larger gets a 413 page at once, before anything reads it (the CSRF check
would read a whole multipart body to find its token); the server never reads past the declared length. On the upload
page the body is then parsed here, with a handler that stops at the file's part header when its name is not a
spreadsheet (415), so such a file never arrives whole.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _

# Upload pages (namespace:name) and the setting that limits their files.
UPLOAD_PAGES = {"loans:bank_import_list": "IMPORT_MAX_UPLOAD_BYTES"}
BANK_FILE_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")
# Room for the form's other fields and the multipart headers around the file.
FORM_MARGIN_BYTES = 64 * 1024


def _mb(size):
    return round(size / 1024 / 1024, 1)


def too_large_message(size, limit):
    return _("The file is %(size)s MB; files up to %(limit)s MB are accepted.") % {
        "size": _mb(size),
        "limit": limit // (1024 * 1024),
    }


class BankFileUploadHandler(FileUploadHandler):
    """Stops reading the body as soon as the file's part header shows it is not a bank file. (Its size needs no
    check here: the server reads no more than the Content-Length the middleware accepted, and a file within the
    form's margin over the limit is refused by the form, on the page.)"""

    def new_file(self, field_name, file_name, *args, **kwargs):
        if not str(file_name).lower().endswith(BANK_FILE_SUFFIXES):
            self.request.upload_refusal = (415, _("Upload an .xlsx, .xls or .csv file."))
            raise StopUpload(connection_reset=True)
        return super().new_file(field_name, file_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        return raw_data  # the next handlers (memory, then a temporary file) keep it

    def file_complete(self, file_size):
        return None


def _content_length(request):
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _upload_limit(request):
    """The file limit of the upload page this request is for, or None."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    setting = UPLOAD_PAGES.get(match.view_name)
    return getattr(settings, setting) if setting else None


def upload_refused(request, status, message):
    upload = _upload_limit(request) is not None
    context = {"code": status, "message": message, "back_url": reverse("loans:bank_import_list") if upload else ""}
    return render(request, "upload_refused.html", context, status=status)


class UploadLimitMiddleware:
    """Placed after the session, language, user and messages are set (the refusal page needs them) and before
    anything reads the body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = _content_length(request)
        general = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        multipart = request.content_type == "multipart/form-data"
        if not multipart and (general is None or length <= general + FORM_MARGIN_BYTES):
            return self.get_response(request)  # the everyday request: no look-up at all
        limit = _upload_limit(request)
        allowed = (limit if limit is not None else general or 0) + FORM_MARGIN_BYTES
        if (limit is not None or general is not None) and length > allowed:
            if limit is None:
                message = _("The request is %(size)s MB, more than the %(limit)s MB this page accepts.") % {
                    "size": _mb(length),
                    "limit": _mb(general),
                }
            else:
                message = too_large_message(length, limit)
            return upload_refused(request, 413, message)
        if limit is not None and multipart and request.method == "POST":
            request.upload_handlers.insert(0, BankFileUploadHandler(request))
            try:
                request.POST  # noqa: B018 - read here, through the handler, before the CSRF check reads it whole
            except (MultiPartParserError, UnreadablePostError):
                pass  # a broken or cut body: the CSRF check and the form refuse it as they always did
            refusal = getattr(request, "upload_refusal", None)
            if refusal is not None:
                return upload_refused(request, *refusal)
        return self.get_response(request)
