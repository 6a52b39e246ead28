"""A WebSocket client on a raw socket, for servers' tests and soaks: it never reads.

websockets' own client keeps reading (and answering pings) in the background; this
one leaves what the server sends in a socket buffer of a few KiB, so the server's
writes block as they would for a client that stopped reading.
"""

from __future__ import annotations

import asyncio
import socket

from websockets.client import ClientProtocol
from websockets.uri import parse_uri


class RawClient:
    """The upgrade done on a raw socket; then it only sends.

    Attributes:
        opened: Whether the server accepted the upgrade (a busy server answers it with
            an error status and closes).
    """

    def __init__(self, url: str, writer: asyncio.StreamWriter, protocol: ClientProtocol) -> None:
        self.url = url
        self.writer = writer
        self.protocol = protocol

    @property
    def opened(self) -> bool:
        return self.protocol.state.name == "OPEN"

    @classmethod
    async def connect(cls, url: str, port: int) -> RawClient:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        protocol = ClientProtocol(parse_uri(url))
        protocol.send_request(protocol.connect())
        writer.write(b"".join(protocol.data_to_send()))
        while protocol.state.name == "CONNECTING":
            protocol.receive_data(await reader.read(4096))
        return cls(url, writer, protocol)

    async def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self.writer.write(b"".join(self.protocol.data_to_send()))
        await self.writer.drain()

    def abort(self) -> None:
        self.writer.transport.abort()
