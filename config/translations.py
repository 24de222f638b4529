"""Django messages whose shipped Vietnamese is out of date, listed here so makemessages keeps them in our catalogue.

Never imported: the calls only mark the strings.
"""

from django.utils.translation import ngettext_lazy

# MinimumLengthValidator: Django 5.2 changed "%(min_length)d" to "%d", and its Vietnamese catalogue did not follow.
ngettext_lazy(
    "This password is too short. It must contain at least %d character.",
    "This password is too short. It must contain at least %d characters.",
    8,
)
