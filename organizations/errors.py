"""The one exception every domain rule raises; views turn it into a message, never a 500."""


class DomainError(Exception):
    """A business rule refused an action. The message is shown to the officer as is."""

    def __init__(self, message, *, field=None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self):
        return str(self.message)
