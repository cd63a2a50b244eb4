"""Django's command-line utility for the example project (``runserver``, ``check``...).

From a clone of the repository, with the dev issuer running (``okta-bearer dev-issuer``)::

    python examples/django_project/manage.py runserver 9406
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # The project is the package django_project, in the folder above this file.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
