"""The Django app that registers okta_bearer's system checks (``INSTALLED_APPS``)."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["OktaBearerConfig"]


class OktaBearerConfig(AppConfig):
    """``"okta_bearer.django"`` in ``INSTALLED_APPS``: checks ``settings.OKTA_BEARER`` at start-up.

    ``manage.py check`` (and ``runserver``, ``migrate``, ``test``) then report
    a wrong or misspelt option as ``okta_bearer.E001``, with the message the
    library's :class:`~okta_bearer.ConfigurationError` gives.
    """

    name = "okta_bearer.django"
    label = "okta_bearer"
    verbose_name = "okta_bearer"

    def ready(self) -> None:
        """Register the system checks."""
        from . import checks  # noqa: F401 - registers the checks
