"""The words of the settings dialog: labels, placeholders, choice names and notes.

Field help comes from the model's metadata; these only make labels and choices read
well. A field missing here still gets a label (:func:`~app.ui.widgets.fields.humanize`).
"""

from __future__ import annotations

from typing import Any

from app.core.options import PROVIDER_TITLES

__all__ = ["PROVIDER_TITLES"]

PAGES = (
    "General", "Provider options", "Microphone", "Dictation", "Captions", "Overlay",
    "Local models",
)  # fmt: skip

# The provider fields shown on the General page, in this order; the rest go to
# "Provider options".
GENERAL_FIELDS = ("model_id", "model", "endpoint", "language", "prompt")

WELCOME = (
    "Welcome to Hark. It transcribes on this computer, offline and with no account: "
    "its speech model is downloaded once (see Local models). Cloud services are "
    "under Provider. Everything else has sensible defaults and can be changed later "
    "from the tray menu."
)
"""The first-run note when the provider is the local engine (no key needed)."""

WELCOME_CLOUD = (
    "Welcome to Hark. Enter your API key for the provider below; Test connection "
    "checks it before you save. Everything else has sensible defaults and can be "
    "changed later from the tray menu."
)
"""The first-run note when a cloud provider is selected."""

BASETEN_NEEDS_TARGET = "Enter a Baseten model ID or an endpoint URL."

LABELS = {
    "provider": "Provider",
    "model_id": "Model ID",
    "model": "Model",
    "endpoint": "Endpoint URL",
    "language": "Language",
    "prompt": "Prompt / vocabulary",
    "schema": "Metadata schema",
    "language_options": "Detectable languages",
    "language_detection_only": "Detect language only",
    "dynamic_preprocessing": "Normalise audio",
    "vad": "Voice detection",
    "commit_reply": "Commit reply",
    "partials": "Partial results",
    "max_final_duration_s": "Longest utterance",
    "beam_search_diversity_rate": "Beam diversity",
    "no_repeat_ngram_size": "No-repeat n-gram size",
    "microphone": "Microphone",
    "insertion": "Insertion method",
    "captions_limit_min": "Stop captions after",
    "unload_after_min": "Unload the model after",
    "hotkey": "Hotkey",
    "mode": "Activation mode",
    "font_size": "Font size",
    "width_percent": "Width",
    "max_lines": "Lines shown",
    "fade_after_s": "Hide after",
}

HELP = {
    "hotkey": "Click the field, then press the new combination (e.g. Ctrl+Alt+Space). "
    "Tab moves on.",
    "microphone": "The input Hark records from. System default follows your sound settings.",
    "screen": "The screen the captions appear on.",
}

CHOICE_LABELS: dict[str, dict[Any, str]] = {
    "provider": PROVIDER_TITLES,
    "sample_rate": {16000: "16000 Hz", 8000: "8000 Hz"},
    "mode": {
        "hold": "Hold to talk",
        "toggle": "Press to start, press to stop",
        "hybrid": "Hybrid: tap toggles, hold talks",
    },
    "insertion": {"paste": "Paste", "type": "Type", "clipboard": "Clipboard only"},
    "position": {"bottom": "Bottom", "top": "Top"},
}

PROMPT_HINT = "Names and terms you use, e.g. Kubernetes, Hark, Dr. Okafor"

PLACEHOLDERS = {
    "baseten": {
        "model_id": "e.g. abcd1234",
        "endpoint": "wss://… (optional; overrides the model ID)",
        "language": "en, de, … or auto",
        "prompt": PROMPT_HINT,
        "language_options": "e.g. en, de, fr (empty: any)",
    },
    "together": {
        "endpoint": "Together AI's standard endpoint",
        "language": "Let the model decide (or en, de, …)",
    },
    "fireworks": {
        "endpoint": "Fireworks' standard endpoint",
        "model": "The endpoint's default model",
        "language": "en, de, … or auto",
        "prompt": PROMPT_HINT,
    },
}

INSERTION_HELP = {
    "paste": "Puts the text on the clipboard, presses the paste shortcut, then restores "
    "your clipboard. Fast, and every character works.",
    "type": "Types the text key by key. Slower; for apps that refuse paste. Some "
    "characters may not type on every keyboard layout.",
    "clipboard": "Only copies the text to the clipboard; you paste it yourself.",
}
