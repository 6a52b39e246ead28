"""The baseline for the desktop benchmarks: a minimal microphone client, no UI.

    .venv/bin/python -m bench.minimal_client ws://127.0.0.1:PORT/environments/production/websocket

Written the way Baseten's documentation example is: ``sounddevice`` opens the default
input at 16 kHz mono int16 in blocks of 512 samples, the callback hands each block to
the event loop, ``websockets`` sends the metadata frame and then the raw blocks, and
every message from the server is printed. Nothing from Hark is imported. It prints
``streaming`` once the microphone is open; closing its stdin sends ``end_audio``,
waits for ``finished`` and exits. The key, if any, comes from ``BASETEN_API_KEY``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import numpy as np
import sounddevice as sd
import websockets

SAMPLE_RATE = 16000
CHUNK_SIZE = 512

METADATA = {
    "streaming_vad_config": {"threshold": 0.5, "min_silence_duration_ms": 300, "speech_pad_ms": 30},
    "streaming_params": {
        "encoding": "pcm_s16le",
        "sample_rate": SAMPLE_RATE,
        "enable_partial_transcripts": True,
    },
    "whisper_params": {"audio_language": "en"},
}


async def main(url: str) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def callback(indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, indata.tobytes())

    key = os.environ.get("BASETEN_API_KEY")
    headers = {"Authorization": f"Api-Key {key}"} if key else {}
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps(METADATA))
        stream = sd.InputStream(
            samplerate=SAMPLE_RATE,
            blocksize=CHUNK_SIZE,
            channels=1,
            dtype="int16",
            callback=callback,
        )
        stream.start()
        print("streaming", flush=True)
        stop = asyncio.ensure_future(loop.run_in_executor(None, sys.stdin.read))

        async def send_audio() -> None:
            while not stop.done():
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, stop}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    await ws.send(getter.result())
                else:
                    getter.cancel()
            stream.stop()
            stream.close()
            while not queue.empty():
                await ws.send(queue.get_nowait())
            await ws.send(json.dumps({"type": "end_audio"}))

        sender = asyncio.create_task(send_audio())
        async for response in ws:
            message = json.loads(response)
            if message.get("type") == "transcription":
                kind = "final" if message.get("is_final") else "partial"
                print(f"[{kind}] {message.get('transcript')}", flush=True)
            if message.get("type") == "end_audio" and message["body"]["status"] == "finished":
                break
        await sender


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
