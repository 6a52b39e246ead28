"""The ``Keyboard`` port on Wayland: the ``wtype`` or ``ydotool`` command-line tools.

Wayland gives no client a way to learn which window has the focus, nor whether a key
is held, so :meth:`WaylandKeyboard.active_window` returns ``None`` (the inserter then
skips its focus check) and :meth:`WaylandKeyboard.modifiers_down` returns ``False``.

* ``wtype`` (preferred) uses the virtual-keyboard protocol, which only wlroots
  compositors (sway, Hyprland, labwc...) offer; GNOME and KDE refuse it ("Compositor
  does not support the virtual keyboard protocol"). It types any Unicode text.
* ``ydotool`` writes to ``/dev/uinput`` (it needs its daemon ``ydotoold`` and access to
  the device). It sends US-layout key codes, so it types ASCII only; other text
  raises, and the inserter leaves it on the clipboard. Its Ctrl+V is the key at the
  US "V" position.

Not verified here (no Wayland compositor in the test environment).
"""

from __future__ import annotations

import asyncio
import shutil

TOOL_TIMEOUT_S = 30.0
# Linux input event codes (linux/input-event-codes.h).
KEY_LEFTCTRL = 29
KEY_V = 47


class WaylandKeyboard:
    """Keys through ``wtype`` or ``ydotool``, whichever is installed (``wtype`` first).

    Args:
        tool: Force ``"wtype"`` or ``"ydotool"`` (default: the first one found).

    Raises:
        RuntimeError: When neither tool is installed.
    """

    name = "wayland"

    def __init__(self, tool: str | None = None) -> None:
        candidates = [tool] if tool else ["wtype", "ydotool"]
        for candidate in candidates:
            path = shutil.which(candidate)
            if path is not None:
                self.tool, self._path = candidate, path
                break
        else:
            raise RuntimeError(
                "Typing on Wayland needs wtype (wlroots compositors) or ydotool; neither is "
                "installed."
            )

    def active_window(self) -> str | None:
        """Unknowable on Wayland: ``None``."""
        return None

    def modifiers_down(self) -> bool:
        """Unknowable on Wayland: ``False``."""
        return False

    async def paste(self) -> None:
        """Send Ctrl+V."""
        if self.tool == "wtype":
            await self._run("-M", "ctrl", "v", "-m", "ctrl")
        else:
            chord = (f"{KEY_LEFTCTRL}:1", f"{KEY_V}:1", f"{KEY_V}:0", f"{KEY_LEFTCTRL}:0")
            await self._run("key", *chord)

    async def type_text(self, text: str) -> None:
        """Type ``text`` (``ydotool``: ASCII only).

        Raises:
            RuntimeError: When the tool fails, or ``ydotool`` is given non-ASCII text.
        """
        if not text:
            return
        if self.tool == "wtype":
            await self._run("--", text)
            return
        if not text.isascii():
            raise RuntimeError("ydotool can type only ASCII text; use Paste on this desktop")
        await self._run("type", "--", text)

    async def _run(self, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            self._path,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(process.communicate(), TOOL_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError(f"{self.tool} did not finish in {TOOL_TIMEOUT_S:.0f}s") from None
        if process.returncode != 0:
            reason = " ".join(err.decode(errors="replace").split()) or f"exit {process.returncode}"
            raise RuntimeError(f"{self.tool} failed: {reason}")
