"""Judging returned arrays against expected ones, naming mistakes, and turning results into points."""
