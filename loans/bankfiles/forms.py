"""The upload form for the bank's spreadsheets."""


from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from loans.models import ImportBatch


class BankFileUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("The file holds"), choices=ImportBatch.Kind.choices)
    file = forms.FileField(
        label=_("Bank spreadsheet"),
        help_text=_(".xlsx, .xls or .csv (UTF-8) as the bank sends it, title block and total row included."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.xls,.csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is %(size)s MB; files up to %(limit)s MB are accepted.")
                % {"size": round(upload.size / 1024 / 1024, 1), "limit": limit // (1024 * 1024)}
            )
        if not upload.name.lower().endswith((".xlsx", ".xlsm", ".xls", ".csv")):
            raise forms.ValidationError(_("Upload an .xlsx, .xls or .csv file."))
        return upload


"""Forms of the loans app: the date and scope every dashboard and report is drawn for."""
