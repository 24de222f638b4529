"""A model's own ValidationError as the DomainError an officer reads: never the raw wording of a database check."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext as _

from organizations.errors import DomainError


def domain_error_from(error: ValidationError, model):
    """The first message of `error`, on its field. A check constraint without its own message would say
    "Constraint “household_citizen_id_12” is violated."; that text means nothing to an officer and names the schema,
    so it is replaced by a plain refusal."""
    field, messages = next(iter(error.message_dict.items()))
    message = messages[0]
    raw = {
        str(constraint.get_violation_error_message())
        for constraint in model._meta.constraints
        if constraint.violation_error_message == constraint.default_violation_error_message
    }
    if message in raw:
        message = _("Some of these details are not allowed together or are not in the expected form; nothing was "
                    "saved. Check the numbers and dates and try again.")
    return DomainError(message, field=None if field == NON_FIELD_ERRORS else field)
