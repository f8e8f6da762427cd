from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "legacy_monolith.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Django stamps last_login on every login; the accounts gateway's receiver does, unless the accounts
        # service owns the users (it stamps them there).
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in

        from legacy_monolith.accounts.gateway import stamp_last_login

        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
        user_logged_in.connect(stamp_last_login, dispatch_uid="accounts.stamp_last_login")
