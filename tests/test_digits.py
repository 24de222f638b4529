"""Numbers, dates and codes are typed with the digits 0 to 9 (full-width digits read as the same): any other script's
digits, superscript or circled digits are refused in words, never read as numbers."""

import pytest
from django import forms

from organizations.codes import DigitCodeField


class NumbersForm(forms.Form):
    year = forms.IntegerField()
    rate = forms.DecimalField()
    on = forms.DateField(input_formats=["%d/%m/%Y"])
    code = DigitCodeField()


@pytest.mark.parametrize(("field", "typed"), [
    ("year", "١٩٨٠"),  # Arabic-Indic
    ("year", "۱۹۸۰"),  # Extended Arabic-Indic (Persian)
    ("rate", "६.६"),  # Devanagari
    ("on", "٠١/٠٢/٢٠٢٦"),
    ("code", "79²"),
    ("code", "①②③"),
])
def test_other_digits_are_refused(field, typed):
    data = {"year": "1980", "rate": "6.6", "on": "01/02/2026", "code": "123", field: typed}
    form = NumbersForm(data)
    assert not form.is_valid()
    assert "0" in form.errors[field][0] and "9" in form.errors[field][0]


def test_full_width_digits_read_as_ascii():
    form = NumbersForm({"year": "１９８０", "rate": "6.6", "on": "０１/０２/２０２６", "code": "１２３"})
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["year"], form.cleaned_data["code"]) == (1980, "123")
    assert form.cleaned_data["on"].year == 2026
