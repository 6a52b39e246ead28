"""The desktop app (PySide6): composition root, tray, overlay, dialogs."""
