"""Push-to-talk end to end on a real X server: hold the hotkey, speak, release, text appears.

Hark runs as a subprocess; the target is another application's focused text field;
the speech is an espeak-ng WAV played into a PulseAudio virtual microphone; the
provider is an emulator on loopback that counts every sample it receives.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from tests.desktop import activate, active_window_name, launch, poll_until, wait_for_window
from tests.emulators import Faults, Script, Utterance
from tests.helpers import speech_wav
from tests.x11.ptt_rig import ptt_rig

TEXT = "Naïve café — déjà vu 😀"
SPOKEN = "Naive cafe, deja vu."


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_wav(tmp_path_factory.mktemp("speech") / "speech.wav", SPOKEN)


def _script(text: str = TEXT) -> Script:
    return Script([Utterance(text, partials=[(0.3, text.split()[0])], final_at=None)])


@pytest.mark.parametrize("insertion", ["paste", "type"])
async def test_hold_speak_release_types_into_the_focused_window(
    tmp_path: Path, wav: Path, insertion: str
) -> None:
    async with ptt_rig(tmp_path, _script(), insertion=insertion) as rig:
        rig.set_clipboard("previous clipboard")  # the user's clipboard must survive
        mark, _ = await rig.dictate(wav)
        await rig.wait_typed(TEXT)
        await rig.wait_log("dictation: inserted", since=mark)
        # A second utterance continues the text with a space, in the same window.
        mark, _ = await rig.dictate(wav)
        await rig.wait_typed(f"{TEXT} {TEXT}")
        poll_until(lambda: rig.clipboard() == "previous clipboard", 10, "clipboard restored")
    assert rig.emu.violations == []
    assert "Traceback" not in "\n".join(rig.log)


async def test_connection_opening_late_loses_no_audio(tmp_path: Path, wav: Path) -> None:
    faults = Faults(connect_delay_s=1.0)
    async with ptt_rig(tmp_path, _script("Nothing lost."), insertion="type", faults=faults) as rig:
        mark, _ = await rig.dictate(wav)
        await rig.wait_typed("Nothing lost.")
        flushed = await rig.wait_log("flush sent after", since=mark)
    sent = int(re.search(r"flush sent after (\d+) samples", flushed).group(1))  # type: ignore[union-attr]
    wav_seconds = wav.stat().st_size / 2 / 22050  # espeak-ng writes 22.05 kHz 16-bit mono
    # Everything captured from key-down reached the provider, though it answered 1 s late...
    assert rig.emu.connections[0].samples_received == sent
    # ...and that is at least the whole WAV (it started playing after the key went down).
    assert sent >= 0.95 * wav_seconds * 16000


async def test_focus_changed_since_key_down_goes_to_the_clipboard(
    tmp_path: Path, wav: Path
) -> None:
    script = Script([Utterance("Wrong window.", final_at=None, start=0.0)])
    async with ptt_rig(tmp_path, script, insertion="type") as rig:
        other = launch([sys.executable, "tests/apps/type_target.py",
                        str(tmp_path / "other.txt"), "OtherWindow"], rig.env)  # fmt: skip
        try:
            other.expect("READY")
            other_id = wait_for_window("^OtherWindow$", rig.env)
            rig.focus_target()
            mark = await rig.press()
            player = rig.mic.play(wav)
            activate(other_id, rig.env)  # the user clicks elsewhere while speaking
            poll_until(lambda: active_window_name(rig.env) == "OtherWindow", 10, "other focus")
            await asyncio.to_thread(player.wait, 30)
            await rig.release()
            await rig.wait_log(
                "The focused window changed; the text is on the clipboard", since=mark
            )
            assert rig.clipboard() == "Wrong window."
            assert rig.typed() == ""
            assert (tmp_path / "other.txt").read_text() == ""
        finally:
            other.stop()
