import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.settings")

from legacy_monolith.limits import ChunkedBodies  # noqa: E402 - needs the settings module set

# Chunked request bodies are read whole and handed on with their length (see legacy_monolith/limits.py).
application = ChunkedBodies(get_wsgi_application())
