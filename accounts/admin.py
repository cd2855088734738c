"""Admin for user accounts: administrators only (editors hold no permission here). API tokens
and second factors are listed without any secret: no token, digest or lookup prefix, no TOTP
secret or recovery seed; an administrator may only delete one (revoke, reset)."""

from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from knox.models import AuthToken

from .forms import UserAdminChangeForm, UserAdminCreationForm
from .models import User

# Their own admins list and search the token's digest, and show the authenticator's `data` (its
# secrets) on its change page.
for _model in (AuthToken, Authenticator):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class _NoSecretsAdmin(admin.ModelAdmin):
    """Read-only: a credential is created by its owner only, and never shown again."""

    search_fields = ("user__email",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuthToken)
class ApiTokenAdmin(_NoSecretsAdmin):
    list_display = ("user", "created", "expiry")
    fields = ("user", "created", "expiry")
    readonly_fields = fields


@admin.register(Authenticator)
class AuthenticatorAdmin(_NoSecretsAdmin):
    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type", "created_at", "last_used_at")
    fields = ("user", "type", "created_at", "last_used_at")
    readonly_fields = fields


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    ordering = ("email",)
    list_display = ("email", "display_name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "display_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )
