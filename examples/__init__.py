"""The example apps (see README.md here), also shipped as ``okta_bearer._examples``.

Each module is a runnable script (``uvicorn api:app --app-dir examples``) and
exposes ``create_app(...)``, which ``okta-bearer demo`` calls.
"""
