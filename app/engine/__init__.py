"""Asyncio orchestration of sessions against small interfaces (``ports``) for the outside world."""
