"""The XKB requests the X11 hotkey needs, sent raw (python-xlib has no XKB module).

Detectable auto-repeat: a held key reaches the client as repeated presses and one
release, instead of a release/press pair per repeat (a per-connection flag). Keymap
events: once a client uses XKB, the server sends it XKB notifications instead of the
core ``MappingNotify``, so a layout switch is only seen if they are selected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from Xlib import error as xerror
from Xlib.display import Display
from Xlib.protocol import rq

log = logging.getLogger(__name__)

XKB_USE_CORE_KBD = 0x0100
XKB_PCF_DETECTABLE_AUTO_REPEAT = 1 << 0
XKB_NEW_KEYBOARD_NOTIFY, XKB_MAP_NOTIFY = 0, 1  # XKB event types (the detail byte)
XKB_NEW_KEYBOARD_NOTIFY_MASK, XKB_MAP_NOTIFY_MASK = 1 << 0, 1 << 1
XKB_ALL_MAP_PARTS = 0xFF


class _XkbUseExtension(rq.ReplyRequest):
    """XkbUseExtension: required before any other XKB request on a connection."""

    _request = rq.Struct(
        rq.Card8("opcode"),
        rq.Opcode(0),
        rq.RequestLength(),
        rq.Card16("wanted_major"),
        rq.Card16("wanted_minor"),
    )
    _reply = rq.Struct(
        rq.ReplyCode(),
        rq.Bool("supported"),
        rq.Card16("sequence_number"),
        rq.ReplyLength(),
        rq.Card16("server_major"),
        rq.Card16("server_minor"),
        rq.Pad(20),
    )


class _XkbPerClientFlags(rq.ReplyRequest):
    """XkbPerClientFlags: sets DetectableAutoRepeat for this connection."""

    _request = rq.Struct(
        rq.Card8("opcode"),
        rq.Opcode(21),
        rq.RequestLength(),
        rq.Card16("device_spec"),
        rq.Pad(2),
        rq.Card32("change"),
        rq.Card32("value"),
        rq.Card32("ctrls_to_change"),
        rq.Card32("auto_ctrls"),
        rq.Card32("auto_ctrl_values"),
    )
    _reply = rq.Struct(
        rq.ReplyCode(),
        rq.Card8("device_id"),
        rq.Card16("sequence_number"),
        rq.ReplyLength(),
        rq.Card32("supported"),
        rq.Card32("value"),
        rq.Card32("auto_ctrls"),
        rq.Card32("auto_ctrl_values"),
        rq.Pad(8),
    )


class _XkbSelectEvents(rq.Request):
    """XkbSelectEvents: here, keyboard replacement and keymap change notifications."""

    _request = rq.Struct(
        rq.Card8("opcode"),
        rq.Opcode(1),
        rq.RequestLength(),
        rq.Card16("device_spec"),
        rq.Card16("affect_which"),
        rq.Card16("clear"),
        rq.Card16("select_all"),
        rq.Card16("affect_map"),
        rq.Card16("map"),
    )


@dataclass(frozen=True)
class XkbSetup:
    """What XKB granted this connection.

    Attributes:
        detectable_autorepeat: A held key gives repeated presses and one release.
        event_code: The X event code of XKB events (their ``detail`` byte is the XKB
            event type), or None without XKB. An XKB client gets no core
            ``MappingNotify``: keymap changes arrive as XKB events instead.
    """

    detectable_autorepeat: bool = False
    event_code: int | None = None


def setup_xkb(display: Display) -> XkbSetup:
    """Use XKB on ``display``: detectable auto-repeat, and keymap change events.

    Returns:
        What worked; a server without XKB gives ``XkbSetup()`` (the caller then relies
        on core ``MappingNotify`` and recognises auto-repeat pairs itself).
    """
    ext = display.query_extension("XKEYBOARD")
    if ext is None:
        return XkbSetup()
    try:
        use = _XkbUseExtension(
            display=display.display, opcode=ext.major_opcode, wanted_major=1, wanted_minor=0
        )
        if not use.supported:
            return XkbSetup()
        flags = _XkbPerClientFlags(
            display=display.display,
            opcode=ext.major_opcode,
            device_spec=XKB_USE_CORE_KBD,
            change=XKB_PCF_DETECTABLE_AUTO_REPEAT,
            value=XKB_PCF_DETECTABLE_AUTO_REPEAT,
            ctrls_to_change=0,
            auto_ctrls=0,
            auto_ctrl_values=0,
        )
        catch = xerror.CatchError()
        _XkbSelectEvents(
            display=display.display,
            onerror=catch,
            opcode=ext.major_opcode,
            device_spec=XKB_USE_CORE_KBD,
            affect_which=XKB_NEW_KEYBOARD_NOTIFY_MASK | XKB_MAP_NOTIFY_MASK,
            clear=0,
            select_all=XKB_NEW_KEYBOARD_NOTIFY_MASK,
            affect_map=XKB_ALL_MAP_PARTS,
            map=XKB_ALL_MAP_PARTS,
        )
        display.sync()
    except xerror.XError as exc:
        log.debug("XKB refused: %s", exc)
        return XkbSetup()
    if catch.get_error() is not None:
        log.debug("XKB event selection refused: %s", catch.get_error())
    return XkbSetup(
        detectable_autorepeat=bool(flags.value & XKB_PCF_DETECTABLE_AUTO_REPEAT),
        event_code=ext.first_event if catch.get_error() is None else None,
    )
