"""The report model and its renderers (JSON, Gradescope, JUnit, text, CSV)."""
