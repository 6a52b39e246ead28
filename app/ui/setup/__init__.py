"""The setup window shown on a first run and from the tray's "Set up Hark…"."""

from app.ui.setup.window import SetupWindow

__all__ = ["SetupWindow"]
