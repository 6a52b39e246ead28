""" "Test connection": a real, short session with the provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from app.core.options import ProviderOptions
from app.engine.ports import Connector, SchemaMemory
from app.engine.session import StreamingSession

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class _Silence:
    """Half a second of silence, as a microphone would deliver it."""

    sample_rate = 16000
    channels = 1

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        import numpy as np

        for _ in range(25):
            yield np.zeros((320, 1), dtype=np.float32)
            await asyncio.sleep(0)


async def check_connection(
    options: ProviderOptions,
    api_key: str,
    connector: Connector,
    *,
    schema_memory: SchemaMemory | None = None,
    limit_s: float = 15.0,
) -> str:
    """Open a session, send 0.5 s of silence, flush and close.

    Returns:
        A one-line success message.

    Raises:
        HarkError: the exact failure (rejected key, unreachable endpoint, ...).
    """
    session = StreamingSession(
        options,
        api_key,
        connector,
        schema_memory=schema_memory,
        connect_timeout=limit_s,
        flush_timeout=min(limit_s, 5.0),
    )
    result = await session.run(_Silence())
    schema = f", {result.schema} metadata schema" if result.schema else ""
    if options.provider == "local":
        return f"Connected to {session.title}: the model loaded and audio was accepted."
    return f"Connected to {session.title}{schema}: the key works and audio was accepted."
