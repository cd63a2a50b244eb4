"""A Django project protected by okta_bearer: middleware, decorators and DRF (see README.md).

Run it against the dev issuer (``okta-bearer dev-issuer`` in another terminal)::

    python examples/django_project/manage.py runserver 9406
"""
