from organizations.access import Role, profile_of, role_of


def officer(request):
    """The signed-in officer's profile and role, for the navigation bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"officer": profile_of(user), "role": role_of(user), "Role": Role}
