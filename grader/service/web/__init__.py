"""The web side: the ASGI app, its JSON API and HTML pages, and the typed views they render."""
