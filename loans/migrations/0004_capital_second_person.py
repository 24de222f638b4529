"""A second person for every movement of capital: proposed district totals, and adjustments that wait for a decision.

Adjustments recorded before this had no checker; they stay approved, decided when they were made.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def earlier_adjustments_decided(apps, schema_editor):
    apps.get_model("loans", "CapitalAdjustment").objects.filter(decided_at__isnull=True).update(
        decided_at=models.F("at")
    )


class Migration(migrations.Migration):

    dependencies = [
        ('loans', '0003_defaults'),
        ('organizations', '0002_defaults'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CapitalPlanChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('proposed', 'Waiting for a decision'), ('approved', 'Approved'), ('rejected', 'Rejected')], default='proposed', max_length=20, verbose_name='status')),
                ('decided_at', models.DateTimeField(blank=True, null=True, verbose_name='decided at')),
                ('decision_reason', models.TextField(blank=True, verbose_name='reason for the decision')),
                ('year', models.PositiveSmallIntegerField(verbose_name='plan year')),
                ('amount_before', models.DecimalField(blank=True, decimal_places=0, max_digits=18, null=True, verbose_name='total before')),
                ('amount', models.DecimalField(decimal_places=0, max_digits=18, verbose_name='proposed total')),
                ('note', models.CharField(blank=True, max_length=300, verbose_name='note')),
                ('proposed_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='proposed at')),
            ],
            options={
                'verbose_name': 'proposed district total',
                'verbose_name_plural': 'proposed district totals',
                'ordering': ['-proposed_at', '-pk'],
            },
        ),
        migrations.AddField(
            model_name='capitaladjustment',
            name='decided_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='decided at'),
        ),
        migrations.AddField(
            model_name='capitaladjustment',
            name='decided_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='decided by'),
        ),
        migrations.AddField(
            model_name='capitaladjustment',
            name='decision_reason',
            field=models.TextField(blank=True, verbose_name='reason for the decision'),
        ),
        migrations.AddField(
            model_name='capitaladjustment',
            name='status',
            field=models.CharField(choices=[('proposed', 'Waiting for a decision'), ('approved', 'Approved'), ('rejected', 'Rejected')], default='approved', max_length=20, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='capitaladjustment',
            name='status',
            field=models.CharField(choices=[('proposed', 'Waiting for a decision'), ('approved', 'Approved'), ('rejected', 'Rejected')], default='proposed', max_length=20, verbose_name='status'),
        ),
        migrations.RunPython(earlier_adjustments_decided, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='capitaladjustment',
            name='actor',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='proposed by'),
        ),
        migrations.AlterField(
            model_name='capitaladjustment',
            name='at',
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name='proposed at'),
        ),
        migrations.AddConstraint(
            model_name='capitaladjustment',
            constraint=models.CheckConstraint(condition=models.Q(('decided_by', models.F('actor')), _negated=True), name='adjustment_checker_is_not_proposer'),
        ),
        migrations.AddConstraint(
            model_name='capitaladjustment',
            constraint=models.CheckConstraint(condition=models.Q(('status', 'proposed'), ('decided_at__isnull', False), _connector='OR'), name='adjustment_decided_has_time'),
        ),
        migrations.AddField(
            model_name='capitalplanchange',
            name='decided_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='decided by'),
        ),
        migrations.AddField(
            model_name='capitalplanchange',
            name='organization',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='capital_plan_changes', to='organizations.organization', verbose_name='district organization'),
        ),
        migrations.AddField(
            model_name='capitalplanchange',
            name='plan',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='changes', to='loans.capitalplan', verbose_name='plan'),
        ),
        migrations.AddField(
            model_name='capitalplanchange',
            name='program',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='capital_plan_changes', to='loans.loanprogram', verbose_name='program'),
        ),
        migrations.AddField(
            model_name='capitalplanchange',
            name='proposed_by',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='proposed by'),
        ),
        migrations.AddConstraint(
            model_name='capitalplanchange',
            constraint=models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='plan_change_amount_positive'),
        ),
        migrations.AddConstraint(
            model_name='capitalplanchange',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'proposed')), fields=('organization', 'program', 'year'), name='one_pending_change_per_plan'),
        ),
        migrations.AddConstraint(
            model_name='capitalplanchange',
            constraint=models.CheckConstraint(condition=models.Q(('decided_by', models.F('proposed_by')), _negated=True), name='plan_change_checker_is_not_proposer'),
        ),
        migrations.AddConstraint(
            model_name='capitalplanchange',
            constraint=models.CheckConstraint(condition=models.Q(('status', 'proposed'), ('decided_at__isnull', False), _connector='OR'), name='plan_change_decided_has_time'),
        ),
    ]
