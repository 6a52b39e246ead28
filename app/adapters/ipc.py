"""Local IPC with the running app: its address, and a client that needs no Qt.

The app listens with Qt's ``QLocalServer`` (``app.ui.single_instance``): a Unix socket
in the user's runtime directory, or a named pipe on Windows. Commands are one line of
text; the app answers one line (``ok`` or ``error: ...``). A second launch of the app
uses this to hand over to the running one, and later the ``hark toggle`` and
``hark ptt`` commands will too.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from app.core.errors import HarkError


class NotRunningError(HarkError):
    """No Hark app is listening."""


def ipc_address() -> str:
    """The server name for ``QLocalServer``: a socket path, or a pipe name on Windows."""
    # Imports are local: `hark ptt` runs this on every key press, so what it imports is
    # its start-up time (tempfile alone pulls in shutil, bz2, lzma and random).
    if sys.platform == "win32":
        import getpass

        return f"hark-{getpass.getuser()}"
    if sys.platform == "darwin":
        import platformdirs

        runtime = Path(platformdirs.user_runtime_dir("hark", appauthor=False))
    elif os.environ.get("XDG_RUNTIME_DIR"):  # what platformdirs gives on Linux and BSD
        runtime = Path(os.environ["XDG_RUNTIME_DIR"]) / "hark"
    else:  # no session runtime dir (e.g. over ssh): a private folder in the temp dir
        import tempfile

        runtime = Path(tempfile.gettempdir()) / f"hark-{os.getuid()}"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(runtime / "ipc.sock")


def send_command(command: str, *, address: str | None = None, timeout: float = 2.0) -> str:
    """Send one command line to the running app and return its one-line answer.

    Raises:
        NotRunningError: nothing is listening at the address.
    """
    address = address or ipc_address()
    payload = (command.strip() + "\n").encode()
    if sys.platform == "win32":  # pragma: no cover - Windows named pipe
        pipe = rf"\\.\pipe\{address}"
        try:
            with open(pipe, "r+b", buffering=0) as f:
                f.write(payload)
                return f.readline().decode().strip()
        except OSError:
            raise NotRunningError("Hark is not running.") from None
    if not os.path.exists(address):
        raise NotRunningError("Hark is not running.")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
            sock.sendall(payload)
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = sock.recv(1024)
                if not chunk:
                    break
                reply += chunk
        except (ConnectionRefusedError, FileNotFoundError):
            raise NotRunningError("Hark is not running.") from None
        except TimeoutError:
            raise NotRunningError("Hark did not answer (is it stuck?).") from None
    return reply.decode().strip()
