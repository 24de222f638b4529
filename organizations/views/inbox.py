"""The inbox: every decision waiting for the signed-in user, whatever page it is decided on."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from organizations import inbox


@require_GET
@login_required
def inbox_page(request):
    today = timezone.localdate()
    items = inbox.waiting_for(request.user)
    rows = [{"item": item, "days": (today - timezone.localdate(item.since)).days} for item in items]
    return render(request, "organizations/inbox.html", {"rows": rows})
