"""Acme order platform: the (tiny) application code the golden path tests exercise."""
