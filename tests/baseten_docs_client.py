"""A Baseten streaming client written the way Baseten's docs example is.

The example on docs.baseten.co (streaming transcription API, v1) opens the socket with
``websockets.connect(url, additional_headers={"Authorization": "Api-Key ..."})``, sends
the metadata dict with ``json.dumps`` as the first frame, then raw int16 PCM in blocks
of ``CHUNK_SIZE = 512`` samples at 16 kHz, and prints each message's ``is_final`` and
``transcript``. The example streams a microphone forever; this one streams a buffer, then sends
``{"type": "end_audio"}``, reads until ``finished`` and closes, as docs/wire-protocols.md
§1.7 describes the graceful end. Nothing from Hark is imported: it checks
that ``hark serve`` works for a client that only knows Baseten's documentation.

Run it by hand (a 16 kHz mono 16-bit WAV; the key, if any, from ``BASETEN_API_KEY``)::

    python -m tests.baseten_docs_client ws://127.0.0.1:8765/environments/production/websocket F.wav
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import wave
from dataclasses import dataclass, field
from typing import Any

import websockets

SAMPLE_RATE = 16000
CHUNK_SIZE = 512  # samples per frame: Silero VAD's window at 16 kHz
CHUNK_DURATION = CHUNK_SIZE / SAMPLE_RATE

# The docs' metadata (current schema), with word timestamps asked for.
METADATA: dict[str, Any] = {
    "streaming_vad_config": {"threshold": 0.5, "min_silence_duration_ms": 300, "speech_pad_ms": 30},
    "streaming_params": {
        "encoding": "pcm_s16le",
        "sample_rate": SAMPLE_RATE,
        "enable_partial_transcripts": True,
    },
    "whisper_params": {"audio_language": "en", "show_word_timestamps": True},
}


@dataclass
class Outcome:
    """What the server sent, in order, and how the connection ended."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None

    @property
    def transcriptions(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == "transcription"]

    @property
    def partials(self) -> list[dict[str, Any]]:
        return [m for m in self.transcriptions if not m.get("is_final")]

    @property
    def finals(self) -> list[dict[str, Any]]:
        return [m for m in self.transcriptions if m.get("is_final")]

    @property
    def end_audio_statuses(self) -> list[str]:
        return [m["body"]["status"] for m in self.messages if m.get("type") == "end_audio"]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == "error"]

    @property
    def text(self) -> str:
        """The finals' text, read as the docs example reads it: each one's ``transcript``."""
        return " ".join(str(m.get("transcript")) for m in self.finals).strip()


async def stream(
    url: str,
    pcm: bytes,
    *,
    api_key: str | None = None,
    metadata: dict[str, Any] | None = None,
    realtime: bool = False,
    timeout_s: float = 30.0,
) -> Outcome:
    """Stream 16 kHz mono int16 ``pcm`` to ``url``; return everything the server said.

    Args:
        url: The ``ws://`` or ``wss://`` endpoint.
        pcm: Little-endian 16-bit samples; the last frame is zero-padded to 512 samples.
        api_key: Sent as ``Authorization: Api-Key <key>`` when given.
        metadata: The first frame; :data:`METADATA` when ``None``.
        realtime: Pace frames at 32 ms, like a microphone; otherwise as fast as possible.
        timeout_s: Give up (``TimeoutError``) after this long without ``finished``.
    """
    headers = {"Authorization": f"Api-Key {api_key}"} if api_key else {}
    outcome = Outcome()
    frame_bytes = CHUNK_SIZE * 2
    if len(pcm) % frame_bytes:
        pcm += b"\0" * (frame_bytes - len(pcm) % frame_bytes)
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps(METADATA if metadata is None else metadata))

        async def send_audio() -> None:
            for i in range(0, len(pcm), frame_bytes):
                await ws.send(pcm[i : i + frame_bytes])
                await asyncio.sleep(CHUNK_DURATION if realtime else 0)
            await ws.send(json.dumps({"type": "end_audio"}))

        async def receive_server_messages() -> None:
            async for response in ws:
                message = json.loads(response)
                outcome.messages.append(message)
                body = message.get("body") or {}
                if message.get("type") == "end_audio" and body.get("status") == "finished":
                    return
                if message.get("type") == "error" and body.get("recoverable") is False:
                    return

        sender = asyncio.create_task(send_audio())
        try:
            async with asyncio.timeout(timeout_s):
                await receive_server_messages()
        finally:
            sender.cancel()
        await ws.close()
    outcome.close_code = ws.close_code
    return outcome


def _read_wav(path: str) -> bytes:
    with wave.open(path, "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise SystemExit("need a 16 kHz mono 16-bit WAV")
        return w.readframes(w.getnframes())


def main() -> None:
    """Stream a WAV file and print the messages as the docs example does."""
    url, path = sys.argv[1], sys.argv[2]
    outcome = asyncio.run(
        stream(url, _read_wav(path), api_key=os.environ.get("BASETEN_API_KEY"), realtime=True)
    )
    for message in outcome.transcriptions:  # as the docs example prints them
        print(f"[{'final' if message.get('is_final') else 'partial'}] {message.get('transcript')}")


if __name__ == "__main__":
    main()
