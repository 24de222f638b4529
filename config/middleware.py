"""Vietnamese unless the user chose otherwise: the browser's Accept-Language is ignored.

Office computers often run an English browser; officers switch language with the VI/EN buttons, which set the
language cookie that LocaleMiddleware reads.
"""


class IgnoreBrowserLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
