"""Pure logic: provider protocols, audio framing, transcript assembly, typed options.

Nothing here touches Qt, sockets, devices, keyrings or clocks; the import-linter
contracts in pyproject.toml keep it that way.
"""
