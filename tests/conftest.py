"""Suite-wide set-up: Qt runs offscreen unless a test starts a real X server itself."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
