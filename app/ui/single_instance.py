"""One app per user: a ``QLocalServer`` that later launches hand over to.

Signals:
    command_received(str): A client sent a command line (``show-settings``, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)


def _ok(command: str) -> str:
    return "ok"


class InstanceServer(QObject):
    """Listens for commands from later launches and from ``hark`` subcommands."""

    command_received = Signal(str)

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        self.answer: Callable[[str], str] = _ok  # the controller replaces it

    def listen(self) -> bool:
        """Start listening; False when another instance already does."""
        if self.server.listen(self.address):
            return True
        probe = QLocalSocket()
        probe.connectToServer(self.address)
        if probe.waitForConnected(500):
            probe.disconnectFromServer()
            return False
        # A socket left behind by a crashed instance: take it over.
        QLocalServer.removeServer(self.address)
        ok = self.server.listen(self.address)
        if not ok:
            log.error("cannot listen at %s: %s", self.address, self.server.errorString())
        return ok

    def _accept(self) -> None:
        while (conn := self.server.nextPendingConnection()) is not None:
            conn.readyRead.connect(lambda c=conn: self._read(c))
            conn.disconnected.connect(conn.deleteLater)

    def _read(self, conn: QLocalSocket) -> None:
        if not conn.canReadLine():
            return
        command = bytes(conn.readLine().data()).decode(errors="replace").strip()
        log.info("command received: %s", command)
        reply = self.answer(command)
        self.command_received.emit(command)
        conn.write((reply + "\n").encode())
        conn.flush()
        conn.disconnectFromServer()

    def close(self) -> None:
        """Stop listening and remove the socket."""
        self.server.close()
