"""The one place that imports the task framework. Django 6 ships it as `django.tasks`; until then the `django-tasks`
backport provides the same API. Moving to Django 6 changes these imports and nothing else."""

try:  # Django 6+
    from django.tasks import task, task_backends
    from django.tasks.backends.immediate import ImmediateBackend
except ImportError:  # Django 5.2: the backport
    from django_tasks import task, task_backends
    from django_tasks.backends.immediate import ImmediateBackend

__all__ = ["ImmediateBackend", "task", "task_backends"]
