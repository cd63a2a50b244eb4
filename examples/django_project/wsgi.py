"""The WSGI application, for gunicorn: ``gunicorn --chdir examples django_project.wsgi``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{__name__.rpartition('.')[0]}.settings")

application = get_wsgi_application()
