"""The user's own set-up: can the chosen provider run (its local model, or its key)?

A local model that is not downloaded yet is asked of the model server (HEAD requests
only, a few seconds at most), so "it will download on first use" is a fact, not a
hope. Keys are looked up where the app looks (keyring, then environment) and never
shown. Whether there is a microphone comes from the audio probe.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from app.diagnostics.findings import (
    PROBE_TIMEOUT_S,
    Finding,
    Findings,
    error_text,
    problem,
    warning,
    with_timeout,
)
from app.diagnostics.probes.audio import AudioResult

if TYPE_CHECKING:
    from app.core.settings import Settings

MODEL_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class LocalModelCheck:
    """The local model: its folder, or the size of its download; or what is wrong."""

    model: str
    model_path: str | None = None
    model_error: str | None = None
    download_bytes: int | None = None
    download_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"model": self.model}
        for key in ("model_path", "model_error", "download_bytes", "download_error"):
            value = getattr(self, key)
            if value is not None:
                info[key] = value
        return info


@dataclass(frozen=True)
class KeyCheck:
    """Where the cloud provider's key comes from (never the key), or why there is none."""

    api_key: str | None
    key_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"api_key": self.api_key}
        if self.key_error is not None:
            info["key_error"] = self.key_error
        return info


@dataclass(frozen=True)
class SetupResult:
    provider: str
    microphone: str | None
    settings_problems: tuple[str, ...] = ()
    model: LocalModelCheck | None = None
    key: KeyCheck | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"provider": self.provider, "microphone": self.microphone}
        if self.settings_problems:
            info["settings_problems"] = list(self.settings_problems)
        if self.model is not None:
            info.update(self.model.to_json())
        if self.key is not None:
            info.update(self.key.to_json())
        if self.error is not None:
            info["error"] = self.error
        return info

    def findings(self, audio: AudioResult) -> Findings:
        """What stops the chosen set-up from dictating, with ``audio``'s microphones."""
        found: list[Finding] = [warning(line) for line in self.settings_problems]
        if self.error:
            found.append(problem(f"the set-up could not be checked: {self.error}"))
        model = self.model
        if model is not None:
            if model.model_error:
                found.append(problem(f"{model.model_error} Choose another model in Settings."))
            if model.download_error:
                found.append(problem(model.download_error))
            elif model.download_bytes is not None:
                mb = model.download_bytes / 1e6
                found.append(
                    warning(
                        f"the local {model.model} model is not downloaded yet ({mb:.0f} MB): "
                        f"Hark fetches it on first use, or run `hark models download "
                        f"{model.model}` now"
                    )
                )
        if self.key is not None and self.key.key_error:
            found.append(problem(self.key.key_error))
        if not audio.error and not audio.input_devices:
            found.append(
                problem(
                    "no microphone found: dictation and captions need one; connect it (or "
                    "check the system's sound settings) and start Hark again"
                )
            )
        wanted = self.microphone
        if wanted and audio.input_devices and wanted not in audio.input_devices:
            found.append(
                warning(
                    f"the microphone {wanted!r} chosen in Settings is not connected; Hark "
                    "uses the default one until it is"
                )
            )
        return tuple(found)


def probe_setup() -> SetupResult:
    """The settings as the app loads them, and whether their provider can run."""
    from app.adapters.settings_store import SettingsStore

    loaded = SettingsStore().load()
    settings = loaded.settings
    result = SetupResult(
        provider=settings.provider,
        microphone=settings.microphone or None,
        settings_problems=tuple(loaded.problems),
    )
    try:
        if settings.provider == "local":
            model = settings.local.model
            check = with_timeout(lambda: _local_model(model), MODEL_TIMEOUT_S, "models")
            return replace(result, model=check)
        key = with_timeout(lambda: _api_key(settings), PROBE_TIMEOUT_S, "the keyring")
        return replace(result, key=key)
    except Exception as exc:
        return replace(result, error=error_text(exc))


def _local_model(model: str) -> LocalModelCheck:
    from app.adapters.models import ModelStore, is_model_folder
    from app.core.errors import HarkError
    from app.core.options import MODEL_SIZES

    store = ModelStore(retries=0, timeout=5.0)
    try:
        path = store.resolve(model)
    except HarkError as exc:
        return LocalModelCheck(model, model_error=str(exc))
    if path is not None:
        if not is_model_folder(path):
            return LocalModelCheck(
                model,
                model_path=str(path),
                model_error=(
                    f"The model folder {path} holds no CTranslate2 Whisper model (model.bin)."
                ),
            )
        return LocalModelCheck(model, model_path=str(path))
    assert model in MODEL_SIZES
    try:
        return LocalModelCheck(model, download_bytes=store.download_size(model))
    except HarkError as exc:
        return LocalModelCheck(model, download_error=str(exc))


def _api_key(settings: Settings) -> KeyCheck:
    from app.adapters.secrets import KeyringSecretStore, resolve_key
    from app.core.errors import HarkError
    from app.core.options import PROVIDER_TITLES, key_optional

    provider = settings.provider
    try:
        _, where = resolve_key(KeyringSecretStore(), provider, PROVIDER_TITLES[provider])
    except HarkError as exc:
        if key_optional(settings.provider_options()):
            return KeyCheck("not needed (an endpoint on this machine)")
        return KeyCheck(None, key_error=str(exc))
    return KeyCheck(where)
