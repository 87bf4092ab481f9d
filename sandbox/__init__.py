"""Secure execution of generated transform code (see issue 3/5)."""
