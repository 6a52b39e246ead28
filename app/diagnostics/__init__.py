"""``hark --self-check``: what this installation of Hark can use, as JSON.

For users ("why does nothing happen when I press the hotkey?") and for the smoke test
of a frozen build: it reports the versions, the Qt platform, the audio backend and
input devices, the keyring backend, the hotkey and typing backends that would load,
the permissions it can detect and the bundled resources. Nothing is grabbed, recorded,
typed or stored, and no permission prompt is triggered.

It also checks the user's own set-up (``setup``): that the chosen provider can run
(the local model is there, or its download is reachable; a cloud provider's key is
stored) and that there is a microphone. ``--installation-only`` leaves that out, for a
build's smoke test on a machine with neither.

Exit status 0 when everything the app needs is present; 1 otherwise, with one line per
reason in ``problems``, each saying what to do. Things the app can live without (no
secure keyring: keys then come from environment variables; no global hotkey: ``hark
ptt`` commands; no typing: the clipboard) are ``warnings`` and do not change the status.

The package:

- :mod:`.probes`: one module per subsystem, each probe returning a frozen dataclass
  with what it found (``to_json``: its section of the report) and its own findings
  (:class:`~app.diagnostics.findings.Finding`: a problem or a warning, one line each).
- :mod:`.report`: runs every probe, capturing the log, and the verdict from the
  typed results.
- :mod:`.cli`: the command line (``hark --self-check [--output FILE]``).

Qt is probed in a child process (the same program with ``--qt-probe FILE``, served by
:mod:`.probes.qt_child`, the only module here that starts Qt): a platform plugin that
cannot start aborts the process (``qFatal``) or may hang, and neither may take the
self-check down with it. Other probes that talk to a daemon (PortAudio to a sound
server, keyring and the portal over D-Bus) run on daemon threads with a time limit.

Checks that only exist on Windows or macOS (microphone privacy settings, Accessibility,
Input Monitoring) follow the platform documentation and are NOT verified here (no
Windows or macOS in the test environment).
"""
