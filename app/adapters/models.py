"""Whisper models on disk: where they live, what is installed, and their download.

Models are CTranslate2 conversions of Whisper, one folder per size under
``<user cache dir>/hark/models/<size>``: the layout ``WhisperTranscriber`` loads. No
hub client is needed: each file is a plain HTTPS GET of
``https://huggingface.co/{repo}/resolve/main/{file}`` (:mod:`app.adapters.downloads`,
TLS verified). ``HARK_MODEL_BASE_URL`` replaces ``https://huggingface.co`` (a mirror,
or a test server).

A download goes into ``<size>.partial/`` and is renamed to ``<size>`` only when every
file has the size the server announced, so a half-finished model is never loaded. An
interrupted download keeps its partial files: the next attempt (automatic retries, or a
later call) asks for the rest with an HTTP ``Range`` request.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from app.adapters.downloads import (
    DownloadCancelled,
    Downloader,
    DownloadError,
    Progress,
    RemoteFile,
    disk_error,
)
from app.core.errors import HarkError

__all__ = [
    "MODEL_REPOS",
    "DownloadCancelled",
    "InstalledModel",
    "ModelDownloadError",
    "ModelNotInstalledError",
    "ModelStore",
    "default_models_root",
]

# faster-whisper's own size -> repository map (faster_whisper/utils.py ``_MODELS``):
# Systran's conversions, and Mobius Labs' for large-v3-turbo (the hub redirects that
# repository to dropbox-dash/faster-whisper-large-v3-turbo; redirects are followed).
MODEL_REPOS: dict[str, str] = {
    **{
        size: f"Systran/faster-whisper-{size}"
        for size in ("tiny", "tiny.en", "base", "base.en", "small", "small.en")
    },
    "medium": "Systran/faster-whisper-medium",
    "medium.en": "Systran/faster-whisper-medium.en",
    "large-v3": "Systran/faster-whisper-large-v3",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}

# What faster-whisper reads from a model folder (its download_model() allow-list is
# config.json, preprocessor_config.json, model.bin, tokenizer.json, vocabulary.*). Each
# entry is a group of alternatives: the first that exists is fetched. Older conversions
# ship vocabulary.txt, newer ones vocabulary.json; only the 128-mel large-v3 models
# ship preprocessor_config.json, so it is optional.
REQUIRED_FILES: tuple[tuple[str, ...], ...] = (
    ("config.json",),
    ("model.bin",),
    ("tokenizer.json",),
    ("vocabulary.json", "vocabulary.txt"),
)
OPTIONAL_FILES: tuple[str, ...] = ("preprocessor_config.json",)

DEFAULT_BASE_URL = "https://huggingface.co"
BASE_URL_ENV = "HARK_MODEL_BASE_URL"
ALTERNATIVES = (
    "Use a folder holding a CTranslate2 Whisper model instead, run `hark models download` "
    "when online, or use a cloud provider."
)
"""What a user without the download can do; worded for the app and the command line alike."""


class ModelDownloadError(HarkError):
    """A model could not be downloaded; the message names the alternatives."""


def _cannot_download(size: str, exc: DownloadError) -> ModelDownloadError:
    """The one-line failure of a download (or of asking its size), with the alternatives."""
    return ModelDownloadError(f"Cannot download the {size} model: {exc}. {ALTERNATIVES}")


class ModelNotInstalledError(HarkError):
    """No installed model has that name."""


@dataclass(frozen=True)
class InstalledModel:
    """A model folder in the store."""

    name: str
    path: Path
    size_bytes: int


def default_models_root() -> Path:
    """``<user cache dir>/hark/models``: where downloaded models live."""
    return Path(platformdirs.user_cache_dir("hark", appauthor=False)) / "models"


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` looks like a CTranslate2 Whisper model folder."""
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class ModelStore:
    """The folder of downloaded models, and the downloader that fills it.

    Args:
        root: The models folder; :func:`default_models_root` when ``None``.
        base_url: Replaces ``https://huggingface.co``; default ``$HARK_MODEL_BASE_URL``.
        retries: How many times an interrupted download is resumed before giving up.
        timeout: Seconds a connection may stay silent.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        base_url: str | None = None,
        retries: int = 3,
        timeout: float = 30.0,
    ) -> None:
        self.root = root if root is not None else default_models_root()
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        self._downloader = Downloader(retries=retries, timeout=timeout)

    # -- the store ------------------------------------------------------------------

    def path_for(self, size: str) -> Path:
        """Where the model ``size`` lives once downloaded (it may not exist)."""
        if not size or "/" in size or "\\" in size or size in (".", "..") or ":" in size:
            raise ValueError(f"not a model name: {size!r}")
        return self.root / size

    def is_installed(self, size: str) -> bool:
        """Whether the model ``size`` is downloaded completely."""
        return is_model_folder(self.path_for(size))

    def resolve(self, name_or_path: str) -> Path | None:
        """A model setting as a folder: an existing folder, or an installed size.

        Returns ``None`` for a known size that is not downloaded yet.

        Raises:
            ModelNotInstalledError: neither a folder nor a known size.
        """
        if name_or_path in MODEL_REPOS:
            return self.path_for(name_or_path) if self.is_installed(name_or_path) else None
        path = Path(name_or_path).expanduser()
        if path.is_dir():
            return path
        sizes = ", ".join(MODEL_REPOS)
        raise ModelNotInstalledError(
            f"Model {name_or_path!r} is neither a model folder nor a size ({sizes})."
        )

    def installed(self) -> list[InstalledModel]:
        """The complete models in the store, by name."""
        if not self.root.is_dir():
            return []
        return [
            InstalledModel(p.name, p, _folder_size(p))
            for p in sorted(self.root.iterdir())
            if p.is_dir() and not p.name.endswith(".partial") and is_model_folder(p)
        ]

    def remove(self, name: str) -> None:
        """Delete the model ``name`` (and any unfinished download of it).

        Raises:
            ModelNotInstalledError: nothing by that name is in the store.
        """
        path, partial = self.path_for(name), self.root / f"{name}.partial"
        if not path.is_dir() and not partial.is_dir():
            raise ModelNotInstalledError(
                f"No model named {name!r} is installed; `hark models list` shows them."
            )
        for folder in (path, partial):
            if folder.is_dir():
                shutil.rmtree(folder)

    # -- downloading ----------------------------------------------------------------

    def download(
        self,
        size: str,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Download the model ``size`` (blocking); return its folder.

        Args:
            size: A key of :data:`MODEL_REPOS`.
            progress: Called with ``(bytes done, bytes total)`` as data arrives; done
                never decreases and ends at total.
            cancel: Set it (from any thread) to stop soon; partial files are kept.

        Raises:
            ModelDownloadError: offline, DNS, HTTP or disk failure (one line).
            DownloadCancelled: ``cancel`` was set.
        """
        if size not in MODEL_REPOS:
            raise ModelDownloadError(
                f"Unknown model size {size!r}; choose one of {', '.join(MODEL_REPOS)}."
            )
        final = self.path_for(size)
        if is_model_folder(final):
            return final
        try:
            return self._download(size, final, progress, cancel)
        except DownloadError as exc:
            raise _cannot_download(size, exc) from None

    def download_size(self, size: str) -> int:
        """Bytes a download of ``size`` would fetch, asked of the server (HEAD requests).

        Raises:
            ModelDownloadError: the server cannot be reached or lacks the model; the
                message says what else can be done.
        """
        try:
            return sum(f.size for f in self._list_files(MODEL_REPOS[size]))
        except DownloadError as exc:
            raise _cannot_download(size, exc) from None

    def _download(
        self, size: str, final: Path, progress: Progress | None, cancel: threading.Event | None
    ) -> Path:
        files = self._list_files(MODEL_REPOS[size])
        partial = self.root / f"{size}.partial"
        self._downloader.fetch_all(files, partial, progress, cancel)
        try:
            if final.exists():  # a broken earlier copy: is_model_folder() said no
                shutil.rmtree(final)
            os.replace(partial, final)
        except OSError as exc:
            raise disk_error(exc, self.root) from None
        return final

    def _list_files(self, repo: str) -> list[RemoteFile]:
        def head(name: str) -> RemoteFile | None:
            return self._downloader.head(f"{self.base_url}/{repo}/resolve/main/{name}")

        found: list[RemoteFile] = []
        for group in REQUIRED_FILES:
            remote = next((r for r in map(head, group) if r is not None), None)
            if remote is None:
                raise DownloadError(f"{repo} has no {' or '.join(group)} (HTTP 404)")
            found.append(remote)
        found += [r for r in map(head, OPTIONAL_FILES) if r is not None]
        return found
