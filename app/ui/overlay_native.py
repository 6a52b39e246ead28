"""Native window fix-ups for the caption overlay: one small function per platform.

Chosen at import. Qt's window flags already make the overlay frameless, on top,
non-activating and click-through on X11; Windows and macOS need a few native bits
on top (docs/desktop-integration.md §3). Neither has run here: both are unverified.
"""

from __future__ import annotations

import sys

if sys.platform == "win32":
    import ctypes

    def native_fixups(hwnd: int) -> None:
        """Add WS_EX_NOACTIVATE | WS_EX_TOOLWINDOW | WS_EX_TRANSPARENT to the window.

        Qt maps WindowTransparentForInput to WS_EX_LAYERED | WS_EX_TRANSPARENT but never
        sets WS_EX_NOACTIVATE; TOOLWINDOW also keeps the overlay out of Alt-Tab.
        """
        gwl_exstyle = -20
        wanted = 0x08000000 | 0x00000080 | 0x00000020  # NOACTIVATE | TOOLWINDOW | TRANSPARENT
        user32 = ctypes.windll.user32
        user32.GetWindowLongPtrW.restype = ctypes.c_ssize_t
        user32.GetWindowLongPtrW.argtypes = [ctypes.c_void_p, ctypes.c_int]
        user32.SetWindowLongPtrW.restype = ctypes.c_ssize_t
        user32.SetWindowLongPtrW.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_ssize_t]
        style = user32.GetWindowLongPtrW(hwnd, gwl_exstyle)
        if style & wanted != wanted:
            user32.SetWindowLongPtrW(hwnd, gwl_exstyle, style | wanted)

elif sys.platform == "darwin":

    def native_fixups(view: int) -> None:
        """Make the NSPanel behave like a caption overlay, if PyObjC is installed.

        Status-window level, on every Space and over full-screen apps, not hidden while
        Hark is inactive (an agent app never is active), and mouse events pass through.
        """
        try:
            import objc  # PyObjC is optional: without it Qt's own flags are all we get
        except ImportError:
            return
        window = objc.objc_object(c_void_p=view).window()
        if window is None:
            return
        window.setLevel_(25)  # NSStatusWindowLevel
        # CanJoinAllSpaces | Stationary | IgnoresCycle | FullScreenAuxiliary
        window.setCollectionBehavior_((1 << 0) | (1 << 4) | (1 << 6) | (1 << 8))
        window.setHidesOnDeactivate_(False)
        window.setIgnoresMouseEvents_(True)

else:

    def native_fixups(window_id: int) -> None:
        """Nothing to add on X11 and Wayland: the Qt flags cover them."""
