"""The window a business date must fall in: not before the scheme's records begin, and not (far) in the future.

Typed dates such as 01/01/0001 or 31/12/9999 parse as dates; without this window they were stored and then broke the
interest and report arithmetic built on them."""

from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from organizations.errors import DomainError


def earliest_business_date():
    return settings.BUSINESS_DATE_EARLIEST


def latest_business_date(future_days=0):
    """Today plus `future_days`; None allows dates up to the far limit (deadlines, agreements, due dates)."""
    if future_days is None:
        return settings.BUSINESS_DATE_LATEST
    return min(timezone.localdate() + timedelta(days=future_days), settings.BUSINESS_DATE_LATEST)


def date_window_error(on, *, future_days=0, earliest=None):
    """The message for a date outside the window, or None when it falls inside."""
    first = earliest or earliest_business_date()
    last = latest_business_date(future_days)
    if on < first:
        return _("The date cannot be before %(date)s.") % {"date": _dmy(first)}
    if on > last:
        if future_days == 0:
            return _("The date cannot be in the future.")
        return _("The date cannot be after %(date)s.") % {"date": _dmy(last)}
    return None


def check_business_date(on, *, field, future_days=0, earliest=None):
    """Refuse a date outside the window with a DomainError on `field` (services, which forms cannot bypass)."""
    message = date_window_error(on, future_days=future_days, earliest=earliest)
    if message:
        raise DomainError(message, field=field)
    return on


def _dmy(day):
    return date_format(day, "d/m/Y") if isinstance(day, date) else str(day)
