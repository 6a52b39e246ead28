"""`hark transcribe` end to end: a subprocess, a speech WAV, and each provider's emulator."""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import pytest

from tests.emulators import (
    BasetenEmulator,
    Faults,
    FireworksEmulator,
    Script,
    TogetherEmulator,
    Utterance,
)
from tests.helpers import hark_env, run_hark, speech_wav

KEY = "test-key-123"
ENV_VARS = {"baseten": "BASETEN_API_KEY", "together": "TOGETHER_API_KEY",
            "fireworks": "FIREWORKS_API_KEY"}  # fmt: skip
EMULATORS: dict[str, Any] = {
    "baseten": BasetenEmulator,
    "together": TogetherEmulator,
    "fireworks": FireworksEmulator,
}

SPOKEN = "Hello world. This is a dictation test."
SCRIPT = Script(
    [
        Utterance("Hello world.", partials=[(0.3, "Hello"), (0.6, "Hello wor")], final_at=0.9),
        Utterance("Naïve café — déjà vu 😀", partials=[(1.2, "Naïve café")], final_at=None),
    ]
)
EXPECTED = "Hello world. Naïve café — déjà vu 😀"


@pytest.fixture(scope="module")
def wav48k_stereo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Speech at a rate and channel count no provider takes, so resampling is exercised."""
    return speech_wav(tmp_path_factory.mktemp("wav") / "speech.wav", SPOKEN, rate=48000, channels=2)


def _emulator(provider: str, script: Script = SCRIPT, **kwargs: Any) -> Any:
    return EMULATORS[provider](script, api_key=KEY, **kwargs)


def _args(provider: str, url: str, wav: Path, *extra: str) -> list[str]:
    return ["transcribe", str(wav), "--provider", provider, "--endpoint", url, *extra]


@pytest.mark.parametrize("provider", ["baseten", "together", "fireworks"])
async def test_prints_the_scripted_transcript(
    provider: str, wav48k_stereo: Path, tmp_path: Path
) -> None:
    kwargs = {"accept_schema": "current"} if provider == "baseten" else {}
    async with _emulator(provider, **kwargs) as emu:
        done = await run_hark(
            *_args(provider, emu.url, wav48k_stereo, "--fast"),
            env=hark_env(tmp_path, **{ENV_VARS[provider]: KEY}),
        )
    assert done.code == 0, done.err
    assert done.out == EXPECTED + "\n"
    assert emu.violations == []
    assert len(emu.connections) == 1


@pytest.mark.parametrize("schema", ["current", "legacy"])
async def test_baseten_both_schemas_with_auto_detection(
    schema: str, wav48k_stereo: Path, tmp_path: Path
) -> None:
    env = hark_env(tmp_path, BASETEN_API_KEY=KEY)
    async with _emulator("baseten", accept_schema=schema) as emu:
        first = await run_hark(*_args("baseten", emu.url, wav48k_stereo, "--fast"), env=env)
        assert first.code == 0, first.err
        assert first.out == EXPECTED + "\n"
        # auto sends the current schema first; a legacy-only server costs one reconnect...
        assert len(emu.connections) == (1 if schema == "current" else 2)
        assert "streaming_params" in emu.connections[0].metadata
        # ...and the schema that worked is remembered for that endpoint.
        second = await run_hark(*_args("baseten", emu.url, wav48k_stereo, "--fast"), env=env)
        assert second.code == 0, second.err
        assert second.out == EXPECTED + "\n"
    assert len(emu.connections) == (2 if schema == "current" else 3)
    last = emu.connections[-1].metadata
    assert ("vad_params" in last) == (schema == "legacy")
    assert emu.violations == []
    rejected = [c.rejected for c in emu.connections if c.rejected]
    assert len(rejected) == (0 if schema == "current" else 1)


async def test_baseten_explicit_legacy_schema_and_legacy_result_shape(
    wav48k_stereo: Path, tmp_path: Path
) -> None:
    async with _emulator("baseten", accept_schema="legacy", result_shape="message_type") as emu:
        done = await run_hark(
            *_args("baseten", emu.url, wav48k_stereo, "--fast", "--schema", "legacy"),
            env=hark_env(tmp_path, BASETEN_API_KEY=KEY),
        )
    assert done.code == 0, done.err
    assert done.out == EXPECTED + "\n"
    assert len(emu.connections) == 1


async def test_real_time_pacing_and_jsonl(tmp_path: Path) -> None:
    wav = speech_wav(tmp_path / "short.wav", "Hello world.")
    script = Script([Utterance("Hello world.", partials=[(0.2, "Hello")], final_at=None)])
    async with _emulator("together", script) as emu:
        done = await run_hark(
            *_args("together", emu.url, wav, "--format", "jsonl"),
            env=hark_env(tmp_path, TOGETHER_API_KEY=KEY),
        )
    assert done.code == 0, done.err
    events = [json.loads(line) for line in done.out.splitlines()]
    types = [e["type"] for e in events]
    assert types.index("partial") < types.index("final") < types.index("flush_ack")
    assert all("text" in e for e in events)
    assert [e["text"] for e in events if e["type"] == "final"] == ["Hello world."]
    assert emu.violations == []


async def test_every_option_reaches_the_baseten_metadata(
    wav48k_stereo: Path, tmp_path: Path
) -> None:
    async with _emulator("baseten", accept_schema="current") as emu:
        done = await run_hark(
            *_args(
                "baseten", emu.url, wav48k_stereo, "--fast",
                "--vad-threshold", "0.6", "--vad-min-silence-ms", "450",
                "--vad-speech-pad-ms", "40", "--partials", "false",
                "--partial-interval-s", "0.8", "--max-final-duration-s", "20",
                "--language", "auto", "--prompt", "Hark", "--language-detection-only", "false",
                "--language-options", "en,de", "--dynamic-preprocessing", "true",
                "--word-timestamps", "true", "--beam-width", "3", "--length-penalty", "1.5",
                "--repetition-penalty", "1.2", "--beam-search-diversity-rate", "0.3",
                "--no-repeat-ngram-size", "4",
            ),
            env=hark_env(tmp_path, BASETEN_API_KEY=KEY),
        )  # fmt: skip
    assert done.code == 0, done.err
    meta = emu.connections[0].metadata
    assert meta["streaming_vad_config"] == {
        "threshold": 0.6, "min_silence_duration_ms": 450, "speech_pad_ms": 40,
    }  # fmt: skip
    sp = meta["streaming_params"]
    assert (sp["enable_partial_transcripts"], sp["partial_transcript_interval_s"]) == (False, 0.8)
    assert sp["final_transcript_max_duration_s"] == 20
    wp = meta["whisper_params"]
    assert wp["audio_language"] == "auto"
    assert wp["prompt"] == "Hark"
    assert wp["language_options"] == ["en", "de"]
    assert wp["use_dynamic_preprocessing"] is True
    assert wp["show_word_timestamps"] is True
    assert wp["whisper_sampling_params"] == {
        "beam_width": 3, "length_penalty": 1.5, "repetition_penalty": 1.2,
        "beam_search_diversity_rate": 0.3, "no_repeat_ngram_size": 4,
    }  # fmt: skip
    assert emu.violations == []


async def test_together_and_fireworks_options_reach_the_query(
    wav48k_stereo: Path, tmp_path: Path
) -> None:
    async with _emulator("together") as emu:
        done = await run_hark(
            *_args("together", emu.url, wav48k_stereo, "--fast", "--model", "m/x",
                   "--language", "de", "--vad-threshold", "0.4", "--vad-min-silence-ms", "700",
                   "--vad-min-speech-ms", "100", "--vad-max-speech-s", "90",
                   "--vad-speech-pad-ms", "120"),
            env=hark_env(tmp_path, TOGETHER_API_KEY=KEY),
        )  # fmt: skip
        assert done.code == 0, done.err
        assert emu.connections[0].query == {
            "model": "m/x", "input_audio_format": "pcm_s16le_16000", "intent": "transcription",
            "language": "de", "threshold": "0.4", "min_silence_duration_ms": "700",
            "min_speech_duration_ms": "100", "max_speech_duration_s": "90",
            "speech_pad_ms": "120",
        }  # fmt: skip
    async with _emulator("fireworks") as emu:
        done = await run_hark(
            *_args("fireworks", emu.url, wav48k_stereo, "--fast", "--language", "fr",
                   "--prompt", "Hark, qasync", "--temperature", "0.2", "--model", "fw-v2"),
            env=hark_env(tmp_path, FIREWORKS_API_KEY=KEY),
        )  # fmt: skip
        assert done.code == 0, done.err
        assert emu.connections[0].query == {
            "response_format": "verbose_json", "language": "fr", "prompt": "Hark, qasync",
            "temperature": "0.2", "model": "fw-v2", "timestamp_granularities": "word,segment",
        }  # fmt: skip
        assert emu.violations == []


async def test_mulaw_at_8k(wav48k_stereo: Path, tmp_path: Path) -> None:
    async with _emulator("baseten", accept_schema="current") as emu:
        done = await run_hark(
            *_args("baseten", emu.url, wav48k_stereo, "--fast",
                   "--encoding", "pcm_mulaw", "--sample-rate", "8000"),
            env=hark_env(tmp_path, BASETEN_API_KEY=KEY),
        )  # fmt: skip
    assert done.code == 0, done.err
    assert done.out == EXPECTED + "\n"
    assert set(emu.connections[0].frames) == {512}
    assert emu.violations == []


# -- failures: one line on stderr, non-zero exit ----------------------------------------


async def test_rejected_key(wav48k_stereo: Path, tmp_path: Path) -> None:
    async with _emulator("fireworks", faults=Faults(reject_key=True)) as emu:
        done = await run_hark(
            *_args("fireworks", emu.url, wav48k_stereo, "--fast"),
            env=hark_env(tmp_path, FIREWORKS_API_KEY=KEY),
        )
    assert done.code == 1
    assert done.err == (
        "hark: error: Fireworks rejected the API key (HTTP 401). "
        "Check it with `hark keys set fireworks`.\n"
    )


async def test_missing_key(wav48k_stereo: Path, tmp_path: Path) -> None:
    done = await run_hark(
        *_args("together", "ws://127.0.0.1:9/v1/realtime", wav48k_stereo), env=hark_env(tmp_path)
    )
    assert done.code == 1
    assert done.err.startswith("hark: error: No Together AI API key. Store one with")
    assert done.err.count("\n") == 1


async def test_unencrypted_remote_endpoint_is_refused(wav48k_stereo: Path, tmp_path: Path) -> None:
    done = await run_hark(
        *_args("baseten", "ws://example.com/ws", wav48k_stereo),
        env=hark_env(tmp_path, BASETEN_API_KEY=KEY),
    )
    assert done.code == 1
    assert "Refusing unencrypted ws:// to example.com; use wss://" in done.err
    assert KEY not in done.err


async def test_unreachable_endpoint(wav48k_stereo: Path, tmp_path: Path) -> None:
    done = await run_hark(
        *_args("baseten", "ws://127.0.0.1:9/ws", wav48k_stereo, "--fast"),
        env=hark_env(tmp_path, BASETEN_API_KEY=KEY),
    )
    assert done.code == 1
    assert done.err.startswith("hark: error: Cannot reach Baseten at 127.0.0.1:")
    assert done.err.count("\n") == 1


async def test_baseten_without_model_id_or_endpoint(wav48k_stereo: Path, tmp_path: Path) -> None:
    done = await run_hark(
        "transcribe", str(wav48k_stereo), "--provider", "baseten",
        env=hark_env(tmp_path, BASETEN_API_KEY=KEY),
    )  # fmt: skip
    assert done.code == 1
    assert done.err == (
        "hark: error: --model-id: Baseten needs a model id or an endpoint URL "
        "(set one of the two)\n"
    )


async def test_out_of_range_option(wav48k_stereo: Path, tmp_path: Path) -> None:
    done = await run_hark(
        *_args("baseten", "ws://127.0.0.1:9/ws", wav48k_stereo, "--vad-threshold", "3"),
        env=hark_env(tmp_path, BASETEN_API_KEY=KEY),
    )
    assert done.code == 1
    assert done.err == "hark: error: --vad-threshold: must be between 0 and 1, got 3\n"


@pytest.mark.parametrize("provider", ["baseten", "together", "fireworks"])
async def test_provider_error_mid_stream(
    provider: str, wav48k_stereo: Path, tmp_path: Path
) -> None:
    faults = Faults(error_at_s=0.5, error_message="GPU fell over")
    kwargs: dict[str, Any] = {"faults": faults}
    if provider == "baseten":
        kwargs["accept_schema"] = "current"
    async with _emulator(provider, **kwargs) as emu:
        done = await run_hark(
            *_args(provider, emu.url, wav48k_stereo, "--fast"),
            env=hark_env(tmp_path, **{ENV_VARS[provider]: KEY}),
        )
    assert done.code == 1
    assert "GPU fell over" in done.err
    assert done.err.startswith("hark: error: ")


# Not Baseten here: a drop before its first server message reads as a metadata
# rejection (its close code is unverified), and the emulator drops that early.
@pytest.mark.parametrize("provider", ["together", "fireworks"])
async def test_a_dropped_connection_costs_no_words(
    provider: str, wav48k_stereo: Path, tmp_path: Path
) -> None:
    kwargs: dict[str, Any] = {"faults": Faults(drop_after_s=0.5)}
    extra = ["--fast", "--format", "jsonl"]
    async with _emulator(provider, **kwargs) as emu:
        done = await run_hark(
            *_args(provider, emu.url, wav48k_stereo, *extra),
            env=hark_env(tmp_path, **{ENV_VARS[provider]: KEY}),
        )
    assert done.code == 0, done.err
    [warning] = done.err.splitlines()
    assert warning.startswith("hark: warning: ")
    assert "closed the connection before the transcript was complete" in warning
    assert warning.endswith("reconnecting in 0.2 s (attempt 1 of 3) to send the audio again")
    lines = [json.loads(line) for line in done.out.splitlines()]
    [reconnect] = [i for i, e in enumerate(lines) if e["type"] == "reconnect"]
    after = [e["text"] for e in lines[reconnect:] if e["type"] == "final"]
    assert " ".join(t.strip() for t in after) == EXPECTED  # complete, and once


@pytest.mark.parametrize("provider", ["baseten", "fireworks"])
async def test_a_drop_after_a_final_resends_only_the_rest(
    provider: str, wav48k_stereo: Path, tmp_path: Path
) -> None:
    """Finals with times: the new connection hears the audio after "Hello world." only."""
    resumed = Script([Utterance("Naïve café — déjà vu 😀", final_at=None)])
    kwargs: dict[str, Any] = {"faults": Faults(drop_after_s=1.5)}
    if provider == "baseten":
        kwargs["accept_schema"] = "current"
    async with _emulator(provider, [SCRIPT, resumed], **kwargs) as emu:
        # Paced, not --fast: the final at 0.9 s must reach the client before the drop
        # (an aborted socket discards what the emulator had not yet flushed).
        done = await run_hark(
            *_args(provider, emu.url, wav48k_stereo, "--format", "jsonl"),
            env=hark_env(tmp_path, **{ENV_VARS[provider]: KEY}),
        )
    assert done.code == 0, done.err
    assert len(emu.connections) == 2
    lines = [json.loads(line) for line in done.out.splitlines()]
    [reconnect] = [i for i, e in enumerate(lines) if e["type"] == "reconnect"]
    after = [e["text"] for e in lines[reconnect:] if e["type"] == "final"]
    assert " ".join(t.strip() for t in after) == EXPECTED  # complete, and once
    # The new connection heard the file from "Hello world."'s end (0.9 s) on.
    with wave.open(str(wav48k_stereo)) as w:
        total = w.getnframes() // 3  # at 16 kHz
    rest = emu.connections[1].samples_received - (total - round(0.9 * 16000))
    assert 0 <= rest < 512 + 6400  # a frame's padding, Baseten's trailing silence


async def test_a_dropped_connection_without_reconnects_is_reported(
    wav48k_stereo: Path, tmp_path: Path
) -> None:
    async with _emulator("fireworks", faults=Faults(drop_after_s=0.5)) as emu:
        done = await run_hark(
            *_args("fireworks", emu.url, wav48k_stereo, "--fast", "--reconnects", "0"),
            env=hark_env(tmp_path, FIREWORKS_API_KEY=KEY),
        )
    assert done.code == 1
    assert "Fireworks closed the connection before the transcript was complete" in done.err


async def test_a_busy_server_that_says_when_is_retried_once(
    wav48k_stereo: Path, tmp_path: Path
) -> None:
    faults = Faults(http_status=429, http_status_times=1, retry_after="1")
    async with _emulator("together", faults=faults) as emu:
        done = await run_hark(
            *_args("together", emu.url, wav48k_stereo, "--fast"),
            env=hark_env(tmp_path, TOGETHER_API_KEY=KEY),
        )
    assert done.code == 0, done.err
    assert [c.status for c in emu.connections] == [429, 101]
    assert done.out.strip() == EXPECTED
    assert "(HTTP 429). It asked to retry in 1 s. Retrying once in 1 s." in done.err


@pytest.mark.parametrize(
    ("retry_after", "attempts"),
    [("120", 1), ("0", 2), (None, 1)],
    ids=["too-long-a-wait", "busy-again", "no-retry-after"],
)
async def test_a_busy_server_costs_at_most_one_retry_and_one_line(
    retry_after: str | None, attempts: int, wav48k_stereo: Path, tmp_path: Path
) -> None:
    faults = Faults(http_status=503, retry_after=retry_after)
    async with _emulator("fireworks", faults=faults) as emu:
        done = await run_hark(
            *_args("fireworks", emu.url, wav48k_stereo, "--fast"),
            env=hark_env(tmp_path, FIREWORKS_API_KEY=KEY),
        )
    assert done.code == 1
    assert len(emu.connections) == attempts
    [line] = [ln for ln in done.err.splitlines() if "error" in ln]
    assert "refused the connection to 127.0.0.1 (HTTP 503)." in line
    assert ("asked to retry" in line) == (retry_after is not None)
    assert "Traceback" not in done.err


# A partial whose text ends in a lone UTF-16 surrogate escape, in each provider's shape.
LONE_PARTIAL = {
    "baseten": '{"type":"transcription","is_final":false,"transcription_num":0,'
    '"segments":[{"start_time":0.0,"end_time":0.2,"text":" caf\\u00e9 \\ud83d"}]}',
    "together": '{"type":"conversation.item.input_audio_transcription.delta",'
    '"item_id":"item_lone","delta":"caf\\u00e9 \\ud83d"}',
    "fireworks": '{"text":"caf\\u00e9 \\ud83d",'
    '"segments":[{"id":"0","text":"caf\\u00e9 \\ud83d"}]}',
}


@pytest.mark.parametrize("output", ["jsonl", "text"])
@pytest.mark.parametrize("provider", ["baseten", "together", "fireworks"])
async def test_hostile_frames_cost_no_traceback_and_no_words(
    provider: str, output: str, wav48k_stereo: Path, tmp_path: Path
) -> None:
    """Nesting 100,000 deep, a lone surrogate, binary and invalid UTF-8, 5 MB of text."""
    frames = ("[" * 100_000 + "]" * 100_000, LONE_PARTIAL[provider], "x" * 5_000_000, "{")
    kwargs: dict[str, Any] = {"faults": Faults(raw_frames=frames, raw_frames_at_s=0.1)}
    if provider == "baseten":
        kwargs["accept_schema"] = "current"
    async with _emulator(provider, **kwargs) as emu:
        done = await run_hark(
            *_args(provider, emu.url, wav48k_stereo, "--fast", "--format", output),
            env=hark_env(tmp_path, **{ENV_VARS[provider]: KEY}),
        )
    assert emu.raw_fired
    assert "Traceback" not in done.err
    assert done.out.encode("utf-8")  # printable: the surrogate became U+FFFD
    if output == "jsonl":
        lines = [json.loads(line) for line in done.out.splitlines()]
        assert any("\ufffd" in e.get("text", "") for e in lines if e["type"] == "partial")
        finals = " ".join(e["text"].strip() for e in lines if e["type"] == "final")
    else:
        finals = done.out.strip()
    assert EXPECTED in finals  # every scripted word still there
    # The bad frames are reported (bounded), the session goes on: hark exits 1 to say so.
    assert done.code == 1, done.err
    [line] = done.err.splitlines()
    assert "sent 3 messages Hark could not read, skipped (first: " in line
    assert line.endswith("the transcript may have gaps.")
    assert len(line) < 600


async def test_flush_never_confirmed_times_out(wav48k_stereo: Path, tmp_path: Path) -> None:
    async with _emulator(
        "baseten", accept_schema="current", faults=Faults(no_flush_reply=True)
    ) as emu:
        done = await run_hark(
            *_args("baseten", emu.url, wav48k_stereo, "--fast", "--flush-timeout", "1"),
            env=hark_env(tmp_path, BASETEN_API_KEY=KEY),
        )
    assert done.code == 1
    assert "Baseten did not confirm the end of the audio within 1 s" in done.err


@pytest.mark.parametrize("provider", ["baseten", "together", "fireworks"])
@pytest.mark.parametrize("accepted", [True, False])
async def test_the_key_never_shows_at_the_highest_verbosity(
    provider: str, accepted: bool, tmp_path: Path
) -> None:
    """At -vv the websockets library logs the handshake, Authorization header included."""
    wav = speech_wav(tmp_path / "short.wav", "Hello.")
    env = hark_env(tmp_path, **{ENV_VARS[provider]: KEY if accepted else "wrong-key-456789"})
    async with _emulator(provider) as emu:
        done = await run_hark(*_args(provider, emu.url, wav, "--fast", "-vv"), env=env)
    assert (done.code == 0) == accepted, done.err
    assert "hark: debug:" in done.err  # the handshake was logged
    for secret in (KEY, "wrong-key-456789"):
        assert secret not in done.err
        assert secret not in done.out
