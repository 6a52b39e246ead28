"""Python's cyclic garbage collector, run on the Qt thread only.

Left automatic, the collector runs on whichever thread happens to allocate when a
threshold is crossed: in Hark that is often PortAudio's callback thread, a model
executor thread or a keyring thread. Qt objects in reference cycles (a closed window
and the lambdas connected to its signals) would then be destroyed on that thread,
where Qt cannot stop their timers or deliver their last events, and the next event
for one of them crashes the process. So the automatic collector is turned off and a
timer on the Qt thread collects whichever generation has crossed its threshold, a few
times a second at most: the same collections at nearly the same moments, on the one
thread that may destroy Qt objects.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 500


class QtThreadCollector(QObject):
    """Disables automatic collection and collects from a Qt timer instead.

    Args:
        interval_ms: How often the generation counts are checked.
        parent: The owning object (the app keeps it for its lifetime).
    """

    def __init__(self, interval_ms: int = CHECK_INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self.collections = 0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        """Collect the oldest generation whose count is over its threshold, if any."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                self.collections += 1
                return

    def stop(self) -> None:
        """Stop the timer and give collection back to Python (at quit, and in tests)."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
