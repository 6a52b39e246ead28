"""The global hotkey on Wayland: the xdg-desktop-portal GlobalShortcuts interface.

Wayland lets no client grab keys; the desktop binds shortcuts for it through the
portal (KDE Plasma >= 5.27, GNOME >= 48, Hyprland; docs/desktop-integration.md §1). A daemon
thread talks D-Bus with jeepney (blocking I/O): ``CreateSession``, then
``BindShortcuts`` with one shortcut whose ``preferred_trigger`` is the hotkey in the
XDG shortcuts-spec form (``CTRL+ALT+space``). ``Activated`` and ``Deactivated``
signals are the press and the release.

The desktop decides: it may show a dialog, pick another trigger, or refuse. ``start``
returns once the session exists and the binding was asked for; the desktop's answer
comes later, so a refusal or an empty binding is reported through ``on_error``.
Where the portal or the interface is missing, ``start`` raises a HotkeyError that
points to the fallback: a compositor shortcut running ``hark ptt press``/``release``
or ``hark toggle``.

UNTESTED against a real compositor (none in CI). The message flow follows the portal
specification (org.freedesktop.portal.GlobalShortcuts, Request and Session).
"""

from __future__ import annotations

import importlib
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from app.adapters.hotkeys.base import (
    IPC_HINT,
    ErrorCallback,
    HotkeyError,
    LoopCallbacks,
    check_start,
)
from app.adapters.hotkeys.keynames import portal_trigger
from app.core.hotkey import Hotkey, describe_hotkey

log = logging.getLogger(__name__)

PORTAL_BUS = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
SHORTCUT_ID = "push-to-talk"
START_TIMEOUT_S = 10.0
POLL_S = 0.25

NO_PORTAL = (
    "This Wayland desktop offers no GlobalShortcuts portal (it needs KDE Plasma 5.27+, "
    f"GNOME 48+ or Hyprland with xdg-desktop-portal), so Hark cannot register a hotkey: "
    f"{IPC_HINT}."
)


class PortalBackend:
    """The hotkey as a GlobalShortcuts portal session on the D-Bus session bus."""

    name = "wayland-portal"

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._callbacks: LoopCallbacks | None = None

    def start(
        self,
        hotkey: Hotkey,
        on_press: Callable[[], None],
        on_release: Callable[[], None],
        *,
        on_error: ErrorCallback | None = None,
    ) -> None:
        """Ask the desktop for ``hotkey``; see :class:`app.adapters.hotkeys.base.HotkeyBackend`."""
        check_start(
            hotkey,
            started=self._thread is not None,
            backend="portal",
            registrar="the GlobalShortcuts portal",
        )
        callbacks = LoopCallbacks(on_press, on_release, on_error)
        ready: Future[None] = Future()
        self._stopping.clear()
        thread = threading.Thread(
            target=self._run,
            args=(hotkey, callbacks, ready),
            name="hark-hotkey-portal",
            daemon=True,
        )
        thread.start()
        try:
            ready.result(timeout=START_TIMEOUT_S)
        except BaseException as exc:
            callbacks.closed = True
            self._stopping.set()
            thread.join(2 * POLL_S + 1)
            if isinstance(exc, FutureTimeout):
                raise HotkeyError(f"The desktop portal did not answer; {IPC_HINT}.") from None
            raise
        self._thread, self._callbacks = thread, callbacks

    def stop(self) -> None:
        """Close the portal session and end the thread."""
        thread, callbacks = self._thread, self._callbacks
        self._thread = self._callbacks = None
        if thread is None:
            return
        if callbacks is not None:
            callbacks.closed = True
        self._stopping.set()
        thread.join(2 * POLL_S + 2)
        if thread.is_alive():
            log.warning("the portal hotkey thread did not end")

    def _run(self, hotkey: Hotkey, callbacks: LoopCallbacks, ready: Future[None]) -> None:
        try:
            _Session(hotkey, callbacks, ready, self._stopping).run()
        except Exception as exc:  # never leave start() waiting or the app unaware
            log.exception("the portal hotkey thread failed")
            error = HotkeyError(f"The portal hotkey failed ({exc!r}); {IPC_HINT}.")
            if not ready.done():
                ready.set_exception(error)
            else:
                callbacks.error(error)


class _Session:
    """One portal session on its own connection, run on the backend's thread."""

    def __init__(
        self,
        hotkey: Hotkey,
        callbacks: LoopCallbacks,
        ready: Future[None],
        stopping: threading.Event,
    ) -> None:
        self.hotkey = hotkey
        self.callbacks = callbacks
        self.ready = ready
        self.stopping = stopping
        self.jeepney: Any = importlib.import_module("jeepney")
        self.blocking: Any = importlib.import_module("jeepney.io.blocking")
        self.portal: Any = self.jeepney.DBusAddress(PORTAL_PATH, PORTAL_BUS, SHORTCUTS)
        self.conn: Any = None
        self.signals: deque[Any] = deque()  # every signal received, in order
        self.session = ""
        self.bind_request = ""

    def run(self) -> None:
        try:
            self.conn = self.blocking.open_dbus_connection(bus="SESSION")
        except (OSError, KeyError, TimeoutError) as exc:  # KeyError: no bus address
            self.ready.set_exception(
                HotkeyError(f"No D-Bus session bus ({exc!r}), so no portal hotkey; {IPC_HINT}.")
            )
            return
        # Signals that arrive while a method call waits for its reply go to this queue
        # (jeepney drops unfiltered messages), so no Response can be missed.
        catch_all = self.conn.filter(self.jeepney.MatchRule(type="signal"), queue=self.signals)
        try:
            self._open()
            if not self.ready.done():
                self.ready.set_result(None)
            self._serve()
        finally:
            catch_all.close()
            self._close()

    # -- set-up ----------------------------------------------------------------------

    def _call(self, address: Any, method: str, signature: str, body: tuple[Any, ...]) -> Any:
        msg = self.jeepney.new_method_call(address, method, signature, body)
        reply = self.conn.send_and_get_reply(msg, timeout=START_TIMEOUT_S)
        return self.jeepney.wrappers.unwrap_msg(reply)

    def _request_path(self, token: str) -> str:
        sender = self.conn.unique_name.lstrip(":").replace(".", "_")
        return f"{PORTAL_PATH}/request/{sender}/{token}"

    def _open(self) -> None:
        try:
            version = self._call(
                self.jeepney.Properties(self.portal).props_if,
                "Get",
                "ss",
                (SHORTCUTS, "version"),
            )[0][1]
        except self.jeepney.wrappers.DBusErrorResponse as exc:
            log.info("GlobalShortcuts portal unavailable: %s", exc)
            self.ready.set_exception(HotkeyError(NO_PORTAL))
            return
        log.debug("GlobalShortcuts portal version %s", version)
        bus = self.jeepney.bus_messages.message_bus
        for rule in (
            self.jeepney.MatchRule(type="signal", interface=REQUEST, member="Response"),
            self.jeepney.MatchRule(type="signal", interface=SHORTCUTS, path=PORTAL_PATH),
        ):
            self.jeepney.wrappers.unwrap_msg(self.conn.send_and_get_reply(bus.AddMatch(rule)))
        token = f"hark{secrets.token_hex(6)}"
        options = {"handle_token": ("s", token), "session_handle_token": ("s", token)}
        self._call(self.portal, "CreateSession", "a{sv}", (options,))
        code, results = self._await_response(self._request_path(token))
        if code != 0 or "session_handle" not in results:
            self.ready.set_exception(
                HotkeyError(f"The desktop refused a shortcuts session (code {code}); {IPC_HINT}.")
            )
            return
        self.session = str(results["session_handle"][1])
        bind_token = f"hark{secrets.token_hex(6)}"
        self.bind_request = self._request_path(bind_token)
        shortcut = {
            "description": ("s", "Hark: push to talk"),
            "preferred_trigger": ("s", portal_trigger(self.hotkey)),
        }
        self._call(
            self.portal,
            "BindShortcuts",
            "oa(sa{sv})sa{sv}",
            (self.session, [(SHORTCUT_ID, shortcut)], "", {"handle_token": ("s", bind_token)}),
        )

    def _next_signal(self, timeout: float) -> Any:
        """The next signal, or None when none came within ``timeout`` seconds."""
        if not self.signals:
            try:
                self.conn.recv_messages(timeout=timeout)
            except TimeoutError:
                return None
        return self.signals.popleft() if self.signals else None

    def _await_response(self, request: str) -> tuple[int, dict[str, Any]]:
        """Wait (bounded) for the Response signal of ``request``."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            msg = self._next_signal(left)
            if msg is not None and self._field(msg, "path") == request:
                code, results = msg.body
                return int(code), dict(results)
        raise TimeoutError(f"no answer to {request}")

    # -- running ---------------------------------------------------------------------

    def _field(self, msg: Any, name: str) -> Any:
        return msg.header.fields.get(getattr(self.jeepney.HeaderFields, name))

    def _serve(self) -> None:
        while self.session and not self.stopping.is_set():
            msg = self._next_signal(POLL_S)
            if msg is None:
                continue
            interface, member = self._field(msg, "interface"), self._field(msg, "member")
            if interface == REQUEST and self._field(msg, "path") == self.bind_request:
                self._bound(*msg.body)
            elif interface != SHORTCUTS or msg.body[:1] != (self.session,):
                continue
            elif member in ("Activated", "Deactivated") and msg.body[1] == SHORTCUT_ID:
                if member == "Activated":
                    self.callbacks.press()
                else:
                    self.callbacks.release()
            elif member == "ShortcutsChanged":
                log.info("the desktop changed the hotkey: %s", _triggers(msg.body[1]))

    def _bound(self, code: int, results: dict[str, Any]) -> None:
        bound = dict(results.get("shortcuts", ("a(sa{sv})", []))[1])
        if code != 0 or SHORTCUT_ID not in bound:
            why = "cancelled" if code == 1 else "refused" if code else "left unassigned"
            self.callbacks.error(
                HotkeyError(
                    f"The desktop {why} the hotkey {describe_hotkey(self.hotkey)}; assign it in "
                    f"the system's shortcut settings, or {IPC_HINT}."
                )
            )
            return
        log.info("the desktop bound the hotkey: %s", _triggers(list(bound.items())))

    def _close(self) -> None:
        try:
            if self.session:
                address = self.jeepney.DBusAddress(self.session, PORTAL_BUS, SESSION)
                self.conn.send(self.jeepney.new_method_call(address, "Close"))
        except OSError as exc:
            log.debug("closing the portal session: %s", exc)
        self.conn.close()


def _triggers(shortcuts: list[tuple[str, dict[str, Any]]]) -> str:
    """The ``trigger_description`` of each bound shortcut, for the log."""
    return ", ".join(
        f"{sid}={info.get('trigger_description', ('s', '?'))[1]}" for sid, info in shortcuts
    )
