"""Small checks shared by the capital, approval and disbursement writes."""

from decimal import Decimal

from django.utils.translation import gettext as _

from loans.money import COLUMN_MAX, format_vnd, is_whole_dong, to_decimal
from organizations.errors import DomainError


def _whole_positive(amount, field="amount", ceiling=COLUMN_MAX):
    try:
        amount = to_decimal(amount)
    except (TypeError, ValueError):
        raise DomainError(_("Enter an amount in whole đồng."), field=field) from None
    if not amount.is_finite() or amount <= 0 or not is_whole_dong(amount):
        raise DomainError(_("Enter an amount greater than zero, in whole đồng."), field=field)
    if amount > min(Decimal(ceiling), COLUMN_MAX):
        raise DomainError(
            _("The amount cannot be more than %(max)s.") % {"max": format_vnd(min(Decimal(ceiling), COLUMN_MAX))},
            field=field,
        )
    return amount


def _require_reason(reason, field="reason"):
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give a reason."), field=field)
    return reason
