"""Names of the roles that the news workflow relies on, and who may use the editors' tools."""

EDITORS_GROUP = "Editors"
# An alternative to the group for someone trusted with the model but not with articles.
MODEL_PERMISSION = "recommendations.change_modelversion"


def is_editor(user) -> bool:
    """Editors and superusers reach the dashboard: aggregates only, never one reader."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=EDITORS_GROUP).exists()


def can_manage_model(user) -> bool:
    """Retraining and rolling back the recommender: editors, or the model permission."""
    return is_editor(user) or (
        getattr(user, "is_authenticated", False) and user.has_perm(MODEL_PERMISSION)
    )
