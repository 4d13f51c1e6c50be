"""The composition root: builds the suite's services, plugins, Celery and Flask apps
from settings, and the ``nws`` command line. Nothing else imports it."""
