"""Resumable HTTP(S) downloads of a set of files, with the standard library only.

:class:`Downloader` asks each file's size with HEAD, then fetches the files into a
folder with progress across all of them. An interrupted file is continued with a
``Range`` request (automatically up to ``retries`` times, and by any later call on
the same folder), a cancel keeps what arrived, and every file must end at the size
the server announced. A small manifest in the folder remembers each file's size and
ETag, so a file that changed on the server since is fetched again from the start
instead of being stitched together from two versions.

HTTPS uses the default, verifying SSL context. Failures are one-line
:class:`DownloadError` messages (offline, DNS, TLS, HTTP status, disk full).
"""

from __future__ import annotations

import errno
import http.client
import json
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from app import __version__
from app.core.errors import HarkError

Progress = Callable[[int, int], None]
"""Called with ``(bytes done, bytes total)``; done never decreases."""

MANIFEST = ".hark-download.json"
_CHUNK = 256 * 1024


class DownloadError(HarkError):
    """A download failed; the message is one line without a final period."""


class DownloadCancelled(HarkError):
    """The download was cancelled; its partial files are kept for a later resume."""


class _Interrupted(Exception):
    """The connection ended before the file was complete (worth a resumed retry)."""


@dataclass(frozen=True)
class RemoteFile:
    """A file to fetch: where it goes (``name``), where from, and what the server said."""

    name: str
    url: str
    size: int
    etag: str | None = None


class Downloader:
    """Fetches files over HTTP(S), resuming interrupted ones.

    Args:
        retries: How many times an interrupted file is resumed before giving up.
        timeout: Seconds a connection may stay silent.
    """

    def __init__(self, *, retries: int = 3, timeout: float = 30.0) -> None:
        self.retries = retries
        self.timeout = timeout

    def head(self, url: str, name: str | None = None) -> RemoteFile | None:
        """The file at ``url`` with its size and ETag, or ``None`` on HTTP 404.

        Raises:
            DownloadError: Any other failure, or no ``Content-Length``.
        """
        try:
            with self._open(url, method="HEAD") as response:
                length = response.headers.get("Content-Length")
                etag = response.headers.get("ETag")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise network_error(exc, url) from None
        except (OSError, urllib.error.URLError) as exc:
            raise network_error(exc, url) from None
        if length is None or not length.isdigit():
            raise DownloadError(f"{_host(url)} did not say how large {_file(url)} is")
        return RemoteFile(name or _file(url), url, int(length), etag)

    def fetch_all(
        self,
        files: Sequence[RemoteFile],
        folder: Path,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Fetch ``files`` into ``folder``, continuing whatever an earlier call left there.

        Raises:
            DownloadError: The network or the disk failed (partial files are kept).
            DownloadCancelled: ``cancel`` was set (partial files are kept).
        """
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._forget_changed(files, folder)
        except OSError as exc:
            raise disk_error(exc, folder) from None
        counter = _Counter(sum(f.size for f in files), progress)
        counter.add(sum(_existing(folder / f.name, f.size) for f in files))
        for remote in files:
            _check(cancel)
            self._fetch_with_retries(remote, folder / remote.name, counter, cancel)
        counter.finish()
        (folder / MANIFEST).unlink(missing_ok=True)

    def _forget_changed(self, files: Sequence[RemoteFile], folder: Path) -> None:
        """Delete partial files whose size or ETag on the server changed since."""
        manifest = folder / MANIFEST
        try:
            seen = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            seen = {}
        now = {f.name: [f.size, f.etag] for f in files}
        for name, was in (seen if isinstance(seen, dict) else {}).items():
            if was != now.get(name):
                (folder / name).unlink(missing_ok=True)
        manifest.write_text(json.dumps(now), encoding="utf-8")

    def _open(self, url: str, *, method: str = "GET", start: int = 0) -> Any:
        headers = {"User-Agent": f"Hark/{__version__}", "Accept-Encoding": "identity"}
        if start:
            headers["Range"] = f"bytes={start}-"
        request = urllib.request.Request(url, headers=headers, method=method)
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ssl.create_default_context()),
            _SameMethodRedirect(),
        )
        return opener.open(request, timeout=self.timeout)

    def _fetch_with_retries(
        self, remote: RemoteFile, dest: Path, counter: _Counter, cancel: threading.Event | None
    ) -> None:
        for attempt in range(self.retries + 1):
            try:
                self._fetch(remote, dest, counter, cancel)
                return
            except _Interrupted as exc:
                if attempt == self.retries:
                    raise DownloadError(
                        f"the connection to {_host(remote.url)} kept breaking ({exc}); "
                        "run the download again to resume"
                    ) from None
                time.sleep(min(0.2 * 2**attempt, 2.0))

    def _fetch(
        self, remote: RemoteFile, dest: Path, counter: _Counter, cancel: threading.Event | None
    ) -> None:
        have = _existing(dest, remote.size)
        if have == remote.size:
            return
        if dest.exists() and dest.stat().st_size != have:  # larger than announced: start over
            dest.unlink()
        try:
            response = self._open(remote.url, start=have)
        except urllib.error.HTTPError as exc:
            if exc.code != 416:
                raise network_error(exc, remote.url) from None
            response = None  # our range is past the end: the file changed
        except (OSError, urllib.error.URLError) as exc:
            if isinstance(exc, ConnectionError | TimeoutError):
                raise _Interrupted(str(exc)) from None
            raise network_error(exc, remote.url) from None
        if response is None or (have and response.status != 206):
            # The server cannot continue this file (416), or sends all of it (ignored
            # Range): start the file again, from this response when there is one.
            dest.unlink(missing_ok=True)
            counter.rewind(have)
            if response is None:
                raise _Interrupted("the server could not continue the file")
        with response:
            _check(cancel)
            try:
                with dest.open("ab") as out:
                    _copy(response, out, counter, cancel)
            except http.client.HTTPException as exc:  # e.g. a cut chunked body
                raise _Interrupted(repr(exc)) from None
            except OSError as exc:
                if isinstance(exc, ConnectionError | TimeoutError):
                    raise _Interrupted(str(exc)) from None
                raise disk_error(exc, dest.parent) from None
        got = dest.stat().st_size
        if got < remote.size:
            raise _Interrupted(f"{remote.name} stopped at {got} of {remote.size} bytes")
        if got > remote.size:
            dest.unlink()
            counter.rewind(got)
            raise _Interrupted(f"{remote.name} is larger than announced")


def _copy(
    response: IO[bytes], out: IO[bytes], counter: _Counter, cancel: threading.Event | None
) -> None:
    while True:
        _check(cancel)
        chunk = response.read(_CHUNK)
        if not chunk:  # http.client ends a cut body quietly: the size check catches it
            return
        out.write(chunk)
        counter.add(len(chunk))


class _SameMethodRedirect(urllib.request.HTTPRedirectHandler):
    """Follows redirects keeping HEAD a HEAD (urllib turns it into a GET).

    The hub answers a model file with a redirect to its content store; a GET there
    would start sending gigabytes just to learn the size.
    """

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and req.get_method() == "HEAD":
            new.method = "HEAD"
        return new


class _Counter:
    """Bytes done across all files; reports through the progress callback."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self.reported = -1
        self.progress = progress

    def add(self, n: int) -> None:
        self.done += n
        self._report()

    def rewind(self, n: int) -> None:
        # What was reported never goes back; reports resume once new data passes it.
        self.done -= n

    def finish(self) -> None:
        self.done = self.total
        self._report()

    def _report(self) -> None:
        shown = min(self.done, self.total)
        if self.progress is not None and shown > self.reported:
            self.reported = shown
            self.progress(shown, self.total)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled("Download cancelled; the next one resumes where it stopped.")


def _existing(path: Path, expected: int) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    return size if size <= expected else 0


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _file(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def network_error(exc: BaseException, url: str) -> DownloadError:
    """A one-line :class:`DownloadError` for a failed request to ``url``."""
    host = _host(url)
    if isinstance(exc, urllib.error.HTTPError):
        return DownloadError(f"{host} answered HTTP {exc.code} for {_file(url)}")
    reason: object = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.gaierror):
        why = f"cannot resolve {urllib.parse.urlsplit(url).hostname} (offline?)"
    elif isinstance(reason, ssl.SSLError):
        why = f"TLS with {host} failed ({getattr(reason, 'reason', None) or reason})"
    elif isinstance(reason, ConnectionRefusedError):
        why = f"{host} refused the connection (offline?)"
    elif isinstance(reason, TimeoutError):
        why = f"{host} did not answer (offline?)"
    elif isinstance(reason, OSError):
        why = f"cannot reach {host}: {reason.strerror or reason} (offline?)"
    else:
        why = f"cannot reach {host}: {reason}"
    return DownloadError(why)


def disk_error(exc: OSError, where: Path) -> DownloadError:
    """A one-line :class:`DownloadError` for a failed write under ``where``."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return DownloadError(f"no space left on the disk of {where}")
    return DownloadError(f"cannot write {where}: {exc.strerror or exc}")
