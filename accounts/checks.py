"""System check: the personalization levels' explanations state the settings' periods."""

from django.core import checks

from privacy.checks import period_problems

from .levels import LEVEL_TEMPLATES


@checks.register()
def level_explanations_state_the_settings_periods(
    app_configs=None, templates=LEVEL_TEMPLATES, **kwargs
):
    return [
        problem
        for level, template in templates.items()
        for problem in period_problems(
            where=f"The explanation of level '{level}'", template=template, check_id="accounts.E001"
        )
    ]
