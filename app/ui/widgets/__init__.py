"""Reusable widgets of the desktop app: the field editors and forms built from settings
metadata, the hotkey capture field and the API key field."""
