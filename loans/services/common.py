"""Small checks shared by the capital, approval and disbursement writes."""

from django.utils.translation import gettext as _

from loans.money import is_whole_dong, to_decimal
from organizations.errors import DomainError


def _whole_positive(amount, field="amount"):
    try:
        amount = to_decimal(amount)
    except (TypeError, ValueError):
        raise DomainError(_("Enter an amount in whole đồng."), field=field) from None
    if amount <= 0 or not is_whole_dong(amount):
        raise DomainError(_("Enter an amount greater than zero, in whole đồng."), field=field)
    return amount


def _require_reason(reason, field="reason"):
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give a reason."), field=field)
    return reason
