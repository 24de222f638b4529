from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from organizations.forms import LoginForm
from organizations.views.logins import PasswordChange

admin.site.site_header = _("Ủy thác – administration")
admin.site.site_title = _("Ủy thác")


urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", PasswordChange.as_view(), name="password_change"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("households/", include("borrowers.urls")),
    path("loans/", include("loans.urls")),
    path("", include("organizations.urls")),
]

# Error pages in the app's layout and language (organizations/views/errors.py).
handler403 = "organizations.views.errors.permission_denied"
handler404 = "organizations.views.errors.page_not_found"
handler500 = "organizations.views.errors.server_error"
