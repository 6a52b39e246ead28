"""Hark: push-to-talk dictation and live captions over streaming speech-to-text."""

__version__ = "0.1.0"
