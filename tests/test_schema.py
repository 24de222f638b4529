"""The migrations build the schema the models describe, in one straight line per app, on whichever database the suite
runs against (CI runs it on PostgreSQL and on SQLite, so both databases are held to the same schema)."""

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

APPS = ("organizations", "borrowers", "loans")


def _models():
    for label in APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            if model._meta.managed and not model._meta.proxy:
                yield model


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", *APPS, check=True, dry_run=True, verbosity=0)


def test_each_app_has_one_linear_history_without_merges():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for label in APPS:
        keys = [key for key in loader.graph.nodes if key[0] == label]
        assert keys, label
        leaves = loader.graph.leaf_nodes(label)
        assert len(leaves) == 1, f"{label} has several leaves: {leaves}"
        for key in keys:
            migration = loader.graph.nodes[key]
            own_parents = [parent for parent in migration.dependencies if parent[0] == label]
            assert len(own_parents) <= 1, f"{key} merges {own_parents}"
            assert "merge" not in key[1], key


@pytest.mark.django_db
def test_every_table_has_the_columns_indexes_and_constraints_of_its_model():
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for model in _models():
            table = model._meta.db_table
            assert table in tables, table
            columns = {column.name for column in connection.introspection.get_table_description(cursor, table)}
            assert columns == {field.column for field in model._meta.local_concrete_fields}, table
            names = set(connection.introspection.get_constraints(cursor, table))
            for declared in [*model._meta.indexes, *model._meta.constraints]:
                assert declared.name in names, f"{table}: {declared.name} missing"
