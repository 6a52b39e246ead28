"""The real outside world: websockets, keyring, files (and later devices and the desktop)."""
