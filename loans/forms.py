"""Forms for the collection day: they clean and convert amounts and dates; services do the rest."""

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organizations.models import SavingsGroup


def parse_amount(value):
    """'1.500.000', '1 500 000' or '1500000' -> Decimal('1500000'); blank -> 0."""
    text = str(value or "").strip().replace(".", "").replace(" ", "").replace("\u00a0", "").replace("₫", "")
    if text.endswith("đ"):
        text = text[:-1]
    if not text:
        return Decimal(0)
    if text.startswith("-"):
        raise forms.ValidationError(_("Amounts cannot be negative."), code="negative")
    if not text.isdigit():
        raise forms.ValidationError(_("Enter an amount in whole đồng, e.g. 1.500.000."), code="invalid")
    return Decimal(text)


class AmountField(forms.CharField):
    """A whole-đồng amount typed the Vietnamese way."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "numeric", "autocomplete": "off", "class": "form-control form-control-sm text-end"})
        return attrs

    def to_python(self, value):
        return parse_amount(super().to_python(value))


class CollectionSheetCreateForm(forms.Form):
    group = forms.ModelChoiceField(label=_("Group"), queryset=SavingsGroup.objects.none())
    collection_on = forms.DateField(label=_("Collection day"), help_text=_("dd/mm/yyyy"))

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups.filter(status=SavingsGroup.Status.ACTIVE).order_by("code")
        self.fields["group"].label_from_instance = lambda g: f"{g.code} – {g.name}"
        self.fields["collection_on"].initial = timezone.localdate()
        self.fields["collection_on"].widget.attrs.update({"placeholder": "dd/mm/yyyy", "inputmode": "numeric"})


class CollectionEntryForm(forms.Form):
    """One page for the whole sheet: per line, paid towards loans, savings deposit, savings withdrawal."""

    COLUMNS = ("paid", "savings_in", "savings_out")

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[f"paid_{line.pk}"] = AmountField(label=_("Paid towards loans"), initial=line.amount_paid or "")
            self.fields[f"savings_in_{line.pk}"] = AmountField(
                label=_("Savings deposit"), initial=line.savings_in or ""
            )
            self.fields[f"savings_out_{line.pk}"] = AmountField(
                label=_("Savings withdrawal"), initial=line.savings_out or ""
            )

    def rows(self):
        """(line, paid field, deposit field, withdrawal field) for the template."""
        return [(line, *(self[f"{column}_{line.pk}"] for column in self.COLUMNS)) for line in self.lines]

    def entries(self):
        data = self.cleaned_data
        return {line.pk: tuple(data[f"{column}_{line.pk}"] for column in self.COLUMNS) for line in self.lines}


class ReversalForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the reversal"),
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. amount entered for the wrong household")}),
    )
