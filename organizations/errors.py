"""The one exception every domain rule raises; views turn it into a message, never a 500."""


class DomainError(Exception):
    """A business rule refused an action. The message is shown to the officer as is.

    A refusal that breaks several rules at once carries each of them in `errors`, [(field or None, message)], so that
    a form shows every one under its field (organizations.forms.apply_domain_error)."""

    def __init__(self, message, *, field=None, errors=None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = list(errors) if errors else [(field, message)]

    @classmethod
    def of(cls, errors):
        """One refusal for several broken rules [(field or None, message)]: the first names the field."""
        errors = list(errors)
        return cls(" ".join(str(message) for _field, message in errors), field=errors[0][0], errors=errors)

    def __str__(self):
        return str(self.message)
