"""Logins: the lockout page (called by django-axes), the password change page and the admins' login log."""

from math import ceil

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.contrib.auth import get_user_model, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.contrib.messages.views import SuccessMessageMixin
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from organizations.access import Role, role_required
from organizations.selectors.logins import locked_logins, login_events


def login_locked_out(request, original_response=None, credentials=None):
    cool_off = get_cool_off(request)
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "minutes": ceil(cool_off.total_seconds() / 60) if cool_off else None,
    }
    return render(request, "registration/locked_out.html", context, status=429)


class PasswordChange(SuccessMessageMixin, auth_views.PasswordChangeView):
    """A wrong old password is a failed login: it counts toward the same lockout, which then signs the user out, so
    a session left open cannot be used to guess the password."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("organizations:home")
    success_message = _("Your password has been changed.")

    def form_invalid(self, form):
        if "old_password" in form.errors:
            user = self.request.user
            credentials = {get_user_model().USERNAME_FIELD: user.get_username()}
            user_login_failed.send(sender=__name__, credentials=credentials, request=self.request)
            if not AxesProxyHandler.is_allowed(self.request, credentials):
                logout(self.request)
                return login_locked_out(self.request, credentials=credentials)
        return super().form_invalid(form)


@require_GET
@role_required(Role.ADMIN)
def login_log(request):
    username = request.GET.get("username", "").strip()
    page = Paginator(login_events(username=username), 50).get_page(request.GET.get("page"))
    context = {"page": page, "username": username, "locked": locked_logins()}
    return render(request, "organizations/login_log.html", context)
