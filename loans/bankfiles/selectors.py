"""Who may import the bank's spreadsheets, and the import batches they see."""


def user_can_import(user):
    """Admins, and users given the import permission."""
    from organizations.access import Role, role_of

    return user.is_authenticated and (role_of(user) == Role.ADMIN or user.has_perm("loans.import_bank_files"))


def import_batches_for(user):
    from loans.models import ImportBatch

    return ImportBatch.objects.all() if user_can_import(user) else ImportBatch.objects.none()
