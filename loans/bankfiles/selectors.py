"""Who may import the bank's spreadsheets, and the import batches they see."""


def user_can_import(user):
    """Admins, and users given the import permission ("bank_import.run" in organizations/policy.py)."""
    from organizations.policy import may

    return may(user, "bank_import.run")


def import_batches_for(user):
    from loans.models import ImportBatch

    return ImportBatch.objects.all() if user_can_import(user) else ImportBatch.objects.none()
