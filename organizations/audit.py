"""The audit trail: every create, change and delete of a domain object, with who, when, before/after and where from.

Single saves and deletes are caught by signals; bulk writes (seeding, imports, set-based commands) call
`audit_bulk`. The request or command that caused a change is taken from `audit_context`, which the middleware sets
for web requests and commands set around their work.
"""

import contextvars
import sys
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils.functional import Promise

AUDITED_APPS = ("organizations", "borrowers", "loans")
# Rows that are themselves history (or operations), or caches the ledger check already verifies (snapshots are rebuilt from it).
NOT_AUDITED = {
    "AuditEvent",
    "ApplicationStatusChange",
    "LoanStatusChange",
    "InterestArrearsEntry",
    "PortfolioMonthEnd",
    "PortfolioDayChange",
    "SnapshotCoverage",
    # Per-group totals rewritten from the cached balances on every refresh (loans/ledger/summaries.py).
    "GroupProgramBalance",
    "GroupBalance",
    # Their sums per ward branch, rewritten with them.
    "BranchProgramBalance",
    "BranchBalance",
    "BranchMonthEnd",
    "BranchDayChange",
    # The record of background jobs is operational history of its own (organizations/jobs.py).
    "JobRun",
    "ScheduledJob",
}
IGNORED_FIELDS = {"updated_at", "search_name"}

_context = contextvars.ContextVar("audit_context", default=None)


def _default_source():
    args = sys.argv[1:2]
    return f"command: {args[0]}" if args and sys.argv[0].endswith("manage.py") else ""


@contextmanager
def audit_context(*, actor=None, request=None, source=None, import_batch=None):
    """Attribute every change made inside the block to this actor / request / command / import batch."""
    parent = _context.get() or {}
    context = {
        "actor": actor if actor is not None else parent.get("actor"),
        "request": request if request is not None else parent.get("request"),
        "source": source or parent.get("source", ""),
        "import_batch": import_batch.pk if hasattr(import_batch, "pk") else import_batch or parent.get("import_batch"),
    }
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def _current():
    context = _context.get() or {}
    actor = context.get("actor")
    request = context.get("request")
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
    source = context.get("source") or (f"{request.method} {request.path}" if request is not None else _default_source())
    return actor, source, context.get("import_batch")


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return "<binary>"
    if isinstance(value, Promise):
        return str(value)
    return value


def _python_value(field, value):
    try:
        return field.to_python(value)
    except Exception:  # an unsaved, invalid value is still worth recording as it is
        return value


def _values(instance):
    return {
        field.attname: _plain(_python_value(field, getattr(instance, field.attname)))
        for field in instance._meta.concrete_fields
        if field.attname not in IGNORED_FIELDS
    }


def _record(instance, action, changes):
    from organizations.models import AuditEvent

    actor, source, batch = _current()
    AuditEvent.objects.create(
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        action=action,
        content_type=ContentType.objects.get_for_model(type(instance)),
        object_id=str(instance.pk),
        object_repr=str(instance)[:300],
        changes=changes,
        source=source[:200],
        import_batch_id=batch or getattr(instance, "import_batch_id", None),
    )


def _before_save(sender, instance, raw=False, **kwargs):
    if raw or instance._state.adding or instance.pk is None:
        instance._audit_before = None
        return
    old = sender._base_manager.filter(pk=instance.pk).first()
    instance._audit_before = _values(old) if old is not None else None


def _after_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    after = _values(instance)
    if created:
        _record(instance, "create", {name: [None, value] for name, value in after.items() if value not in (None, "")})
        return
    before = getattr(instance, "_audit_before", None) or {}
    changes = {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}
    if changes:
        _record(instance, "update", changes)


def _after_delete(sender, instance, **kwargs):
    _record(instance, "delete", {name: [value, None] for name, value in _values(instance).items()})


def audit_bulk(model, *, action="bulk_create", objects=None, ids=None, count=None, note=""):
    """One audit row for a bulk write: how many objects, their ids (first 1,000) and a note."""
    from organizations.models import AuditEvent

    actor, source, batch = _current()
    if ids is None:
        ids = [obj.pk for obj in objects] if objects is not None else []
    AuditEvent.objects.create(
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        action=action,
        content_type=ContentType.objects.get_for_model(model),
        object_repr=f"{count if count is not None else len(ids)} × {model._meta.verbose_name}",
        changes={"count": count if count is not None else len(ids), "ids": ids[:1000], "note": note},
        source=source[:200],
        import_batch_id=batch,
    )


def audited_models():
    for label in AUDITED_APPS:
        for model in apps.get_app_config(label).get_models():
            if model.__name__ not in NOT_AUDITED:
                yield model


def connect():
    for model in audited_models():
        pre_save.connect(_before_save, sender=model, dispatch_uid=f"audit-pre-{model._meta.label}")
        post_save.connect(_after_save, sender=model, dispatch_uid=f"audit-post-{model._meta.label}")
        post_delete.connect(_after_delete, sender=model, dispatch_uid=f"audit-del-{model._meta.label}")


def history_for(obj, limit=50):
    """The audit rows of one object, newest first."""
    from organizations.models import AuditEvent

    return (
        AuditEvent.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)), object_id=str(obj.pk))
        .select_related("actor")
        .order_by("-at", "-pk")[:limit]
    )


class AuditMiddleware:
    """Attribute changes made during a web request to its user and path."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit_context(request=request):
            return self.get_response(request)
