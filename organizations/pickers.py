"""Ward and group pickers that search as the user types: a plain select that static/js/picker.js turns into a
combobox fed by the endpoints in organizations.views.pickers, scoped like the select's own choices."""

from datetime import date

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from borrowers.models import fold_name
from organizations.selectors.scope import groups_for, wards_for

#: Suggestions shown for one search; the user types more to narrow them.
LIMIT = 20


class SearchSelect(forms.Select):
    """A select of wards or groups. With JavaScript it becomes a text box that suggests matching units from
    `source` (a URL name) as the user types and still submits the chosen unit's id; without, it stays a select."""

    def __init__(self, source, attrs=None, params=None):
        super().__init__(attrs)
        self.source = source
        self.params = dict(params or {})

    def __deepcopy__(self, memo):
        copy = super().__deepcopy__(memo)
        copy.params = dict(self.params)
        return copy

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        url = reverse(self.source)
        if self.params:
            url = f"{url}?{urlencode(self.params)}"
        context["widget"]["attrs"]["data-picker-url"] = url
        return context


def _words(q):
    return fold_name((q or "").strip()[:100])


def ward_suggestions(user, q, on=None, value="pk"):
    """[(id, label)] of the user's wards in being on `on` (None: today) whose name or code matches `q`; with
    value="code", [(code, label)] for the filters that name a ward by its code."""
    from organizations.forms import MapChoiceField

    field = MapChoiceField(empty_label=None)
    field.set_units(wards_for(user), on=on)
    words = _words(q)
    found = []
    for choice, label in field.choices:
        for inner_choice, inner_label in (label if isinstance(label, list | tuple) else [(choice, label)]):
            unit = inner_choice.instance
            if not words or words in fold_name(inner_label) or unit.code.startswith(words):
                found.append((unit.code if value == "code" else unit.pk, inner_label))
            if len(found) >= LIMIT:
                return found
    return found


def group_suggestions(user, q):
    """[(id, label)] of the user's groups whose code starts with `q` or whose name or ward contains it."""
    words = _words(q)
    groups = groups_for(user).order_by("code").values_list("pk", "code", "name", "branch__ward__name")
    if words.isdigit():
        groups = groups.filter(code__startswith=words)
        words = ""
    found = []
    for pk, code, name, ward in groups.iterator(chunk_size=2000):
        label = f"{code} – {name} ({ward})"
        if not words or words in fold_name(label):
            found.append((pk, label))
            if len(found) >= LIMIT:
                break
    return found


def parse_on(value):
    """A picker's `on` parameter (ISO date, not after today), or None."""
    try:
        on = date.fromisoformat(value or "")
    except ValueError:
        return None
    return on if on <= timezone.localdate() else None
