"""``python manage.py accounts_gateway {local,remote,status}``: where the login page checks passwords.

``remote`` sends the login page's password checks (with the login throttle and the ``last_login`` stamp) to the
accounts service (the users' owner once the accounts are cut over); ``local`` returns them to the monolith's own
tables. Sessions stay the monolith's either way. See :mod:`legacy_monolith.gateway_command`.
"""

from __future__ import annotations

from legacy_monolith.accounts import gateway as accounts
from legacy_monolith.gateway_command import GatewayCommand


class Command(GatewayCommand):
    help = ("Switch the accounts gateway: 'remote' (passwords checked at the accounts service, after the accounts' "
            "cutover), 'local' (the monolith's own users, before cutover or after a rollback) or show it ('status').")
    gateway = "accounts"
    switch = accounts.SWITCH
    url_setting, token_setting = "ACCOUNTS_SERVICE_URL", "ACCOUNTS_SERVICE_TOKEN"
    remote_means = "the login page checks passwords"
    problems = staticmethod(accounts.remote_configuration_problems)
    probe = staticmethod(lambda: accounts.RemoteAccounts().probe())
