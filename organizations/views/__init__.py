"""Pages about the organization tree, one module per capability: home (the dashboard), logins, groups, grading and
supervision."""

# Re-exports for the old import path; removed once callers import from the capability modules.
# (config/settings.py names "organizations.views.login_locked_out"; config/urls.py imports PasswordChange.)
from organizations.views.logins import PasswordChange, login_locked_out

__all__ = ["PasswordChange", "login_locked_out"]
