"""A local stand-in for the model hub: files at ``/{repo}/resolve/main/{file}``.

Like the hub it answers HEAD with the size and an ETag, redirects large files to a content store
(``/cdn/...``), and honours ``Range: bytes=N-`` with 206. Faults: ``cut_once`` names
files whose first GET stops halfway and drops the connection; ``stall`` makes every
body wait (between chunks) until the event is set, for cancellation tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d+)-$")


@dataclass
class Seen:
    """One request the server answered."""

    method: str
    path: str
    range: str | None
    status: int


@dataclass
class ModelHub:
    """The files served, what was asked, and the faults to inject."""

    files: dict[str, bytes]  # "/{repo}/resolve/main/{file}" -> content
    redirect: set[str] = field(default_factory=set)  # file names sent via /cdn/
    cut_once: set[str] = field(default_factory=set)
    stall: threading.Event | None = None
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    chunk: int = 64 * 1024

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ranges(self, name: str) -> list[str]:
        """The Range headers of GETs for file ``name`` that were answered (not redirected)."""
        return [
            s.range
            for s in self.seen
            if s.method == "GET" and s.path.endswith(f"/{name}") and s.range and s.status != 302
        ]


def fake_model_files(folder: Path, model_bytes: int = 1_500_000) -> Path:
    """Write the files a model download fetches, with random weights: enough for the
    downloader and the model list, not for transcribing."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.bin").write_bytes(os.urandom(model_bytes))
    (folder / "tokenizer.json").write_text("{}")
    (folder / "vocabulary.json").write_text("[]")
    return folder


def add_repo(hub: ModelHub, repo: str, folder: Path) -> None:
    """Serve every file of ``folder`` as ``repo``."""
    for f in sorted(folder.iterdir()):
        if f.is_file():
            hub.files[f"/{repo}/resolve/main/{f.name}"] = f.read_bytes()


def _handler(hub: ModelHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, *, body: bool) -> None:
            path = self.path
            real = path.removeprefix("/cdn")
            name = real.rsplit("/", 1)[-1]
            rng = self.headers.get("Range")
            data = hub.files.get(real)
            if data is None:
                return self._status(404, rng)
            if not path.startswith("/cdn/") and name in hub.redirect:
                hub.seen.append(Seen(self.command, path, rng, 302))
                self.send_response(302)
                self.send_header("Location", "/cdn" + path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            start = 0
            if rng and (m := _RANGE.match(rng)):
                start = int(m.group(1))
                if start >= len(data):
                    return self._status(416, rng)
            status = 206 if start else 200
            hub.seen.append(Seen(self.command, path, rng, status))
            self.send_response(status)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if not body:
                return None
            payload = data[start:]
            if name in hub.cut_once:
                hub.cut_once.discard(name)
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return None
            for i in range(0, len(payload), hub.chunk):
                if hub.stall is not None:
                    hub.stall.wait(10)
                try:
                    self.wfile.write(payload[i : i + hub.chunk])
                except (BrokenPipeError, ConnectionResetError):
                    return None
            return None

        def _status(self, code: int, rng: str | None) -> None:
            hub.seen.append(Seen(self.command, self.path, rng, code))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextlib.contextmanager
def serve_hub(hub: ModelHub) -> Iterator[ModelHub]:
    """Run ``hub`` on 127.0.0.1 (a free port) in a thread for the ``with`` block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="model-hub", daemon=True
    )
    thread.start()
    try:
        yield hub
    finally:
        if hub.stall is not None:
            hub.stall.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def closed_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
