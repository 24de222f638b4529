"""Scoped reads: what each user may see of the organization tree (scope.py), the login history (logins.py) and the
supervision record (supervision.py). Views look objects up only through these."""
