"""Faithful local emulators of the streaming speech-to-text providers Hark speaks to.

Real WebSocket servers on 127.0.0.1 that follow ``docs/wire-protocols.md`` §1 (Baseten), §2
(Together), §3 (Fireworks) and the §5.6 architecture: one scripted core advancing by
received audio time, a thin skin per provider, fault injection. Independent of the ``app``
package on purpose.
"""

from .baseten import BasetenEmulator
from .fireworks import FireworksEmulator
from .script import Hypothesis, Script, Timeline, Utterance
from .server import ConnectionRecord, EmulatorServer, Faults
from .together import TogetherEmulator

__all__ = [
    "BasetenEmulator",
    "ConnectionRecord",
    "EmulatorServer",
    "Faults",
    "FireworksEmulator",
    "Hypothesis",
    "Script",
    "Timeline",
    "TogetherEmulator",
    "Utterance",
]
