"""sounddevice and PortAudio, and the input devices Hark would offer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from app.diagnostics.findings import PROBE_TIMEOUT_S, Findings, error_text, problem, with_timeout


@dataclass(frozen=True)
class AudioResult:
    """The audio system; ``loaded`` when sounddevice (and so PortAudio) imported."""

    input_devices: tuple[str, ...] = ()
    loaded: bool = False
    sounddevice: str | None = None
    portaudio: str | None = None
    library: str | None = None
    """The PortAudio library sounddevice loaded: the system's or a bundled copy."""
    host_apis: tuple[str, ...] | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": "sounddevice", "input_devices": list(self.input_devices)}
        if self.loaded:
            info["sounddevice"] = self.sounddevice
            info["portaudio"] = self.portaudio
            info["library"] = self.library
            info["host_apis"] = None if self.host_apis is None else list(self.host_apis)
        if self.error is not None:
            info["error"] = self.error
        return info

    def findings(self) -> Findings:
        return (problem(f"no audio input: {self.error}"),) if self.error else ()


def _probe() -> AudioResult:
    from app.adapters.microphone import PORTAUDIO_MISSING

    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library is missing
        return AudioResult(error=f"{PORTAUDIO_MISSING} ({error_text(exc)})")
    except Exception as exc:  # Pa_Initialize failed
        return AudioResult(error=f"the audio system could not be started: {error_text(exc)}")
    version = getattr(sounddevice, "__version__", None)
    found = AudioResult(loaded=True, sounddevice=None if version is None else str(version))
    try:
        library = getattr(sounddevice, "_libname", None)
        found = replace(
            found,
            portaudio=str(sounddevice.get_portaudio_version()[1]),
            library=None if library is None else str(library),
        )
        found = replace(
            found, host_apis=tuple(str(api["name"]) for api in sounddevice.query_hostapis())
        )
        from app.adapters.microphone import list_input_devices

        return replace(found, input_devices=tuple(list_input_devices()))
    except Exception as exc:
        return replace(found, error=error_text(exc))


def probe_audio() -> AudioResult:
    try:
        return with_timeout(_probe, PROBE_TIMEOUT_S, "the audio system")
    except Exception as exc:
        return AudioResult(error=error_text(exc))
