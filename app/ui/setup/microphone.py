"""Setup step 2: pick the microphone and watch a live level meter while testing it.

The test opens the source the app itself records from (the controller's source
factory), reads its blocks on the asyncio loop and shows their RMS level; nothing is
recorded or sent anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import HarkError
from app.engine.captions import LiveSource
from app.ui.setup import texts
from app.ui.widgets.form import ERROR_COLOR, OK_COLOR, note_label, show_message

log = logging.getLogger(__name__)

HEARD_LEVEL = 0.02
"""An RMS level above this (about -34 dBFS) counts as hearing the user."""
METER_GAIN = 4.0
"""Speech sits around 0.05..0.2 RMS: amplified so normal speech fills most of the bar."""


class MicrophonePage(QWidget):
    """A device list, Test/Stop, a level meter and a line saying what is heard.

    Args:
        devices: Input device names (the default first).
        current: The device in the settings (``""``: the system default).
        source_factory: Opens a source for a device name (as dictation does).
    """

    def __init__(
        self,
        devices: Sequence[str],
        current: str,
        source_factory: Callable[[str], LiveSource] | None,
    ) -> None:
        super().__init__()
        self.source_factory = source_factory
        self._task: asyncio.Task[None] | None = None
        self._source: LiveSource | None = None
        self.peak = 0.0
        self.combo = QComboBox()
        self.combo.setAccessibleName("Microphone")
        self.combo.addItem(texts.MIC_DEFAULT, "")
        for name in devices:
            self.combo.addItem(name, name)
        if current and self.combo.findData(current) < 0:
            self.combo.addItem(f"{current} (not connected)", current)
        self.combo.setCurrentIndex(max(0, self.combo.findData(current)))
        self.combo.currentIndexChanged.connect(self._on_device_changed)
        self.test_button = QPushButton("Test")
        self.test_button.setAccessibleName("Test the microphone")
        self.test_button.setEnabled(source_factory is not None)
        self.test_button.clicked.connect(self.toggle_test)
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.meter.setAccessibleName("Microphone level")
        self.status = note_label(muted=False)
        self.status.setAccessibleName("Microphone status")
        self.status.hide()

        device_row = QHBoxLayout()
        device_row.addWidget(self.combo, 1)
        device_row.addWidget(self.test_button)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Microphone:", device_row)
        form.addRow("Level:", self.meter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(note_label(texts.MIC_INTRO, muted=False))
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def device(self) -> str:
        """The chosen device name (``""``: the system default)."""
        return str(self.combo.currentData())

    @property
    def testing(self) -> bool:
        """Whether the microphone is open for the test."""
        return self._task is not None

    @Slot()
    def toggle_test(self) -> None:
        """Start the test, or stop it."""
        if self._task is not None:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        """Open the chosen microphone and show its level."""
        if self.source_factory is None or self._task is not None:
            return
        self.peak = 0.0
        self.test_button.setText("Stop")
        show_message(self.status, texts.MIC_LISTENING, None)
        self._task = asyncio.ensure_future(self._listen(self.source_factory(self.device())))

    def stop(self) -> None:
        """End the test and close the microphone."""
        if self._source is not None:
            self._source.stop()
        if self._task is not None and self._source is None:  # not started yet
            self._task.cancel()

    async def _listen(self, source: LiveSource) -> None:
        self._source = source
        problem = ""
        from app.core.audio import rms_level  # numpy: loaded when the page listens

        try:
            await source.start()
            async for block in source.blocks():
                level = rms_level(block)
                self.peak = max(self.peak, level)
                self.meter.setValue(min(100, round(level * METER_GAIN * 100)))
                if self.peak >= HEARD_LEVEL and self.status.text() != texts.MIC_HEARD:
                    show_message(self.status, texts.MIC_HEARD, OK_COLOR)
            if source.error is not None:
                problem = str(source.error)
        except HarkError as exc:
            problem = str(exc)
        except asyncio.CancelledError:
            pass
        finally:
            with contextlib.suppress(Exception):
                await source.aclose()
            self._source = None
            self._task = None
        try:
            self.meter.setValue(0)
            self.test_button.setText("Test")
            if problem:
                show_message(self.status, problem, ERROR_COLOR)
            elif self.peak < HEARD_LEVEL:
                show_message(self.status, texts.MIC_SILENT, ERROR_COLOR)
        except RuntimeError:  # the window was closed and deleted meanwhile
            log.debug("microphone test ended after its window closed")

    @Slot()
    def _on_device_changed(self) -> None:
        if self._task is not None:  # the test was of the other device
            self.stop()
        show_message(self.status, "", None)
