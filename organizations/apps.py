from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = _("Organizations")

    def ready(self):
        from organizations import audit, text

        text.connect()  # before the audit trail, so that it records the cleaned values
        audit.connect()
