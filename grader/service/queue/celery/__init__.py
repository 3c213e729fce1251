"""Scale-out on Celery: the app and its delivery settings, the web side's publisher, and the worker's task."""
