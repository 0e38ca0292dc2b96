"""WSGI entry point for gunicorn: ``cds_service.wsgi:app``."""
from . import create_app

app = create_app()
