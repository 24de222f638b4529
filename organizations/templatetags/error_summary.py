"""The entries of the GOV.UK error summary (templates/includes/error_summary.html) for one form or several.

A form with repeated rows (one per request, per loan) names the row of a field in the summary with an
`error_summary_label(name)` method, so that three "Required" errors read as three different households."""

from django import template

register = template.Library()


def _entries(form):
    label_of = getattr(form, "error_summary_label", None) or (lambda name: "")
    label = label_of("__all__") or ""
    entries = [{"anchor": "", "message": error, "label": label} for error in form.non_field_errors()]
    for field in form:
        if not field.errors:
            continue
        anchor = "" if field.is_hidden else (field.id_for_label or field.auto_id or "")
        label = label_of(field.name)
        # A message that already names the row's household is not prefixed with it again.
        entries.extend(
            {"anchor": anchor, "message": error, "label": "" if not label or label in error else label}
            for error in field.errors
        )
    return entries


@register.simple_tag
def error_summary_entries(form=None, forms=None):
    """Every error of `form` and of each form in `forms`, in page order: [{anchor, message, label}]."""
    entries = []
    for each in [form, *(forms or [])]:
        if each is not None and hasattr(each, "non_field_errors") and each.errors:
            entries.extend(_entries(each))
    return entries
