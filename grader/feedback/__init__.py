"""Unscored feedback: probe cases that name mistakes, minimal failing cases, and random gradient checks."""
