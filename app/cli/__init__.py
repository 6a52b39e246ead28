"""The command line: ``hark transcribe`` and ``hark keys``. A composition root like ``app.ui``."""
