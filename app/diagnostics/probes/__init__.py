"""One probe per subsystem; each returns a frozen result with ``to_json`` and ``findings``.

``runtime`` (Python, OS, frozen build), ``qt`` (display, Qt, tray, icons, the app's
modules: in a child process, :mod:`.qt_child`), ``audio`` (PortAudio and input
devices), ``secrets`` (the keyring), ``hotkey``, ``keyboard`` (text insertion),
``permissions`` (macOS, Windows, the Wayland portal), ``tls`` (the providers' network
connections), ``resources`` (icons), ``local_engine`` (faster-whisper's libraries) and
``setup`` (the chosen provider: its local model or its key; a microphone).
"""
