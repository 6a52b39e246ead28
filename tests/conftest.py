"""Suite-wide set-up: Qt runs offscreen unless a test starts a real X server itself."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The tiny Whisper model fixtures, registered once for every module: a per-module
# pytest_plugins next to direct imports of the same module broke collection depending
# on which test file pytest reached first.
pytest_plugins = ["tests.local_model"]
