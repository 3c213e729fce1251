"""The grading service: HTTP API, web pages and a durable job queue on top of the grade workflow."""
