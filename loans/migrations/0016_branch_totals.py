import django.db.models.deletion
from django.db import migrations, models

FIGURES = "loans, households, outstanding, overdue, frozen, interest_arrears"
SNAPSHOT = FIGURES + ", savings"

#: Each per-branch table as the sums of its per-group table over the groups' branches today (what the summary and
#: snapshot refreshes write from now on), so that an installation upgraded with its summaries built reads the same.
FILL = [
    f"""INSERT INTO loans_branchprogrambalance (branch_id, program_id, flows_on, {FIGURES}, lent_month, lent_year,
            collected_month, collected_year)
        SELECT g.branch_id, b.program_id, b.flows_on, {', '.join(f'SUM(b.{n})' for n in FIGURES.split(', '))},
               SUM(b.lent_month), SUM(b.lent_year), SUM(b.collected_month), SUM(b.collected_year)
        FROM loans_groupprogrambalance b JOIN organizations_savingsgroup g ON g.id = b.group_id
        GROUP BY g.branch_id, b.program_id, b.flows_on""",
    """INSERT INTO loans_branchbalance (branch_id, households, savings)
        SELECT g.branch_id, SUM(b.households), SUM(b.savings)
        FROM loans_groupbalance b JOIN organizations_savingsgroup g ON g.id = b.group_id GROUP BY g.branch_id""",
    f"""INSERT INTO loans_branchmonthend (branch_id, program_id, month_end, {SNAPSHOT}, lent_year, collected_year)
        SELECT g.branch_id, m.program_id, m.month_end, {', '.join(f'SUM(m.{n})' for n in SNAPSHOT.split(', '))},
               SUM(m.lent_year), SUM(m.collected_year)
        FROM loans_portfoliomonthend m JOIN organizations_savingsgroup g ON g.id = m.group_id
        GROUP BY g.branch_id, m.program_id, m.month_end""",
    f"""INSERT INTO loans_branchdaychange (branch_id, program_id, "on", {SNAPSHOT}, lent, collected)
        SELECT g.branch_id, d.program_id, d."on", {', '.join(f'SUM(d.{n})' for n in SNAPSHOT.split(', '))},
               SUM(d.lent), SUM(d.collected)
        FROM loans_portfoliodaychange d JOIN organizations_savingsgroup g ON g.id = d.group_id
        GROUP BY g.branch_id, d.program_id, d."on"
    """,
]


def fill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for statement in FILL:
            cursor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [("loans", "0015_day_close_schedule")]

    operations = [
        migrations.CreateModel(
            name='BranchBalance',
            fields=[
                ('branch', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='organizations.organization', verbose_name='ward branch')),
                ('households', models.PositiveIntegerField(default=0, verbose_name='households with outstanding loans')),
                ('savings', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='savings')),
            ],
            options={
                'verbose_name': 'branch balance',
                'verbose_name_plural': 'branch balances',
            },
        ),
        migrations.CreateModel(
            name='BranchDayChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('loans', models.IntegerField(default=0, verbose_name='number of loans')),
                ('households', models.IntegerField(default=0, verbose_name='households with outstanding loans')),
                ('outstanding', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='outstanding')),
                ('overdue', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='overdue')),
                ('frozen', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='frozen')),
                ('interest_arrears', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='interest arrears')),
                ('savings', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='savings')),
                ('on', models.DateField(verbose_name='business date')),
                ('lent', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='lent')),
                ('collected', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='collected')),
                ('branch', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='organizations.organization', verbose_name='ward branch')),
                ('program', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='loans.loanprogram', verbose_name='program')),
            ],
            options={
                'verbose_name': 'daily branch change',
                'verbose_name_plural': 'daily branch changes',
                'indexes': [models.Index(fields=['on'], name='loans_branc_on_a81249_idx'), models.Index(fields=['branch', 'on'], name='loans_branc_branch__a9e4e5_idx')],
            },
        ),
        migrations.CreateModel(
            name='BranchMonthEnd',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('loans', models.IntegerField(default=0, verbose_name='number of loans')),
                ('households', models.IntegerField(default=0, verbose_name='households with outstanding loans')),
                ('outstanding', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='outstanding')),
                ('overdue', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='overdue')),
                ('frozen', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='frozen')),
                ('interest_arrears', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='interest arrears')),
                ('savings', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='savings')),
                ('month_end', models.DateField(verbose_name='month end')),
                ('lent_year', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='lent this year')),
                ('collected_year', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='collected this year')),
                ('branch', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='organizations.organization', verbose_name='ward branch')),
                ('program', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='loans.loanprogram', verbose_name='program')),
            ],
            options={
                'verbose_name': 'month-end branch snapshot',
                'verbose_name_plural': 'month-end branch snapshots',
                'indexes': [models.Index(fields=['month_end'], name='loans_branc_month_e_8847b5_idx'), models.Index(fields=['branch', 'month_end'], name='loans_branc_branch__7e8c9a_idx')],
            },
        ),
        migrations.CreateModel(
            name='BranchProgramBalance',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('flows_on', models.DateField(blank=True, null=True, verbose_name='flows as of')),
                ('loans', models.PositiveIntegerField(default=0, verbose_name='number of loans')),
                ('households', models.PositiveIntegerField(default=0, verbose_name='households with outstanding loans')),
                ('outstanding', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='outstanding')),
                ('overdue', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='overdue')),
                ('frozen', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='frozen')),
                ('interest_arrears', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='interest arrears')),
                ('lent_month', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='lent this month')),
                ('lent_year', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='lent this year')),
                ('collected_month', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='collected this month')),
                ('collected_year', models.DecimalField(decimal_places=0, default=0, max_digits=18, verbose_name='collected this year')),
                ('branch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='organizations.organization', verbose_name='ward branch')),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='loans.loanprogram', verbose_name='program')),
            ],
            options={
                'verbose_name': 'branch balance by program',
                'verbose_name_plural': 'branch balances by program',
                'indexes': [models.Index(fields=['branch', 'program'], name='loans_branc_branch__21d82b_idx')],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
