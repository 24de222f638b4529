from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoansConfig(AppConfig):
    name = "loans"
    verbose_name = _("Loans")

    def ready(self):
        from loans import (
            calendar,  # noqa: F401  (connects the cache-clearing signals)
            inbox,  # noqa: F401  (registers the loans' decisions in organizations.inbox)
        )
