"""The admins' page of ward mergers: choose the wards and the new ward, preview what moves, then carry it out."""

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from organizations.errors import DomainError
from organizations.forms import WardMergerForm
from organizations.models import Ward, WardMerger
from organizations.policy import allowed
from organizations.services.mergers import merger_plan, wards_merge

COUNT_LABELS = {
    "groups": gettext_lazy("Savings groups"),
    "households": gettext_lazy("Households"),
    "neighbourhoods": gettext_lazy("Neighbourhoods"),
    "loans": gettext_lazy("Loan agreements"),
    "open_requests": gettext_lazy("Open loan requests"),
    "allocations": gettext_lazy("Approved capital allocations"),
    "officers": gettext_lazy("Officers"),
}
PAST_MERGERS = 100


def _arguments(form):
    data = form.cleaned_data
    return {"sources": list(data["sources"]), "code": data["code"], "name": data["name"],
            "merged_on": data["merged_on"], "decision": data["decision"]}


def _past_mergers():
    return (
        WardMerger.objects.select_related("ward", "carried_out_by")
        .prefetch_related(Prefetch("ward__merged_wards", queryset=Ward.objects.order_by("code")))
        .order_by("-merged_on", "-pk")[:PAST_MERGERS]
    )


@require_http_methods(["GET", "POST"])
@allowed("ward.merge")
def ward_merge(request):
    form = WardMergerForm(request.POST or None)
    plan = None
    if request.method == "POST" and form.is_valid():
        arguments = _arguments(form)
        if request.POST.get("confirm") == "1":
            if not request.POST.get("checked"):
                form.add_error(None, _("Tick “I have checked the preview” to carry out the merger."))
            else:
                try:
                    merger = wards_merge(**arguments, actor=request.user)
                except DomainError as error:
                    form.add_error(None, error.message)
                else:
                    messages.success(request, _("%(wards)s now form the ward %(code)s – %(ward)s from %(date)s.") % {
                        "wards": ", ".join(ward.name for ward in arguments["sources"]), "code": merger.ward.code,
                        "ward": merger.ward.name, "date": date_format(merger.merged_on, "d/m/Y"),
                    })
                    return redirect("organizations:ward_merge")
        plan = merger_plan(**arguments)
        plan.count_rows = [(COUNT_LABELS[key], plan.counts.get(key, 0)) for key in COUNT_LABELS]
    return render(request, "organizations/ward_merger.html", {
        "form": form, "plan": plan, "mergers": _past_mergers(),
    })
