"""The words of the setup window: short, plain, and each says what to do."""

from __future__ import annotations

STEPS = ("Transcription", "Microphone", "Hotkey", "Try it")

TITLES = {
    "Transcription": "How should Hark turn speech into text?",
    "Microphone": "Check your microphone",
    "Hotkey": "Choose your dictation hotkey",
    "Try it": "Try it here",
}

INTRO = (
    "Welcome to Hark. Four short steps and you are dictating; every step can be "
    "skipped, and everything can be changed later from the tray menu."
)

LOCAL_CHOICE = "On this computer: private, free, works offline"
CLOUD_CHOICE = "With a cloud service: needs an account and an API key"

# Download sizes of the models (approximate; the exact size shows while downloading).
MODEL_INFO = {
    "tiny": ("fastest, least accurate", 75),
    "tiny.en": ("fastest, English only", 75),
    "base": ("fast and good for most people", 145),
    "base.en": ("fast, English only", 145),
    "small": ("more accurate, needs a recent CPU", 485),
    "small.en": ("more accurate, English only", 485),
    "medium": ("accurate, best with a GPU", 1530),
    "medium.en": ("accurate, English only, best with a GPU", 1530),
    "large-v3": ("most accurate, needs a GPU", 3090),
    "large-v3-turbo": ("near large-v3 accuracy, faster, needs a GPU", 1620),
}


def size_text(megabytes: int) -> str:
    """``145 MB`` or ``1.5 GB``."""
    return f"{megabytes / 1000:.1f} GB" if megabytes >= 1000 else f"{megabytes} MB"


def model_label(size: str, installed: bool) -> str:
    """The model list entry: ``base: fast and good for most people (145 MB)``."""
    what, megabytes = MODEL_INFO.get(size, ("", 0))
    tail = "installed" if installed else f"{size_text(megabytes)} download"
    return f"{size}: {what} ({tail})" if what else f"{size} ({tail})"


MODEL_READY = "Installed: ready to use, offline."
MODEL_NEEDED = "Not downloaded yet: about {size}, once; after that Hark works offline."
FOLDER_READY = "Using the model in {path}."
FOLDER_HINT = (
    "A model folder holds model.bin and config.json: a CTranslate2 (faster-whisper) "
    "Whisper model, e.g. copied from {root} on another computer."
)
NOT_A_MODEL = (
    "{path} holds no Whisper model (model.bin and config.json are missing). "
    "Choose the folder that contains them."
)
DOWNLOADING = "Downloading the {size} model…"
FOLDER_ENTRY = "Model folder: {name}"
CANCELLED = "Download cancelled. Download again to continue where it stopped."

OFFLINE = "The model could not be downloaded. {reason}"
OFFLINE_HELP = (
    "You can still set Hark up:\n"
    "• Use a model folder you already have: press “Use a model folder…”.\n"
    "• Download it later, when you are online: run  hark models download {size}  "
    "in a terminal, or press Try again.\n"
    "• Use a cloud service instead: choose “With a cloud service” below."
)

CLOUD_NOTE = "Test connection checks the key and the service before you go on."
BASETEN_MODEL = "Baseten model ID"
BASETEN_MODEL_HINT = "e.g. abcd1234 (from your Baseten deployment)"

MIC_INTRO = "Pick the microphone Hark listens to, press Test and say something."
MIC_LISTENING = "Listening… speak: the bar moves when Hark hears you."
MIC_HEARD = "Hark hears you."
MIC_SILENT = "No sound yet. Check that the microphone is on and not muted."
MIC_DEFAULT = "System default"

HOTKEY_INTRO = (
    "Hold the hotkey while you speak; release it and the text is typed where your "
    "cursor is. Click the field and press the keys you want."
)
HOTKEY_CLASH = "{hotkey} is usually taken ({what}). Pick another unless you are sure."

COMMON_SHORTCUTS = {
    "ctrl+c": "copy",
    "ctrl+v": "paste",
    "ctrl+x": "cut",
    "ctrl+z": "undo",
    "ctrl+y": "redo",
    "ctrl+a": "select all",
    "ctrl+s": "save",
    "ctrl+f": "find",
    "ctrl+p": "print",
    "ctrl+w": "close tab",
    "ctrl+t": "new tab",
    "ctrl+n": "new window",
    "ctrl+q": "quit",
    "ctrl+space": "input method switch in many desktops",
    "super+space": "input method switch in many desktops",
    "alt+tab": "switch windows",
    "alt+f4": "close window",
    "alt+space": "window menu",
    "ctrl+alt+delete": "system menu",
    "ctrl+alt+t": "open a terminal on Ubuntu",
    "ctrl+alt+l": "lock the screen",
    "super+l": "lock the screen",
    "super+d": "show the desktop",
    "super+e": "file manager",
    "cmd+space": "Spotlight",
    "cmd+tab": "switch apps",
    "cmd+q": "quit",
}

INSERTION_INTRO = "How the text gets into the other app:"

TRY_INTRO = (
    "The box below has the focus. Hold {hotkey}, say a sentence, release: your words "
    "appear here. No hotkey on this desktop? Use the Start button instead."
)
TRY_STARTED = "Listening… speak, then press Stop (or release the hotkey)."
TRY_DONE = "That is it: dictation works. Press Finish."
TRY_PLACEHOLDER = "Your words appear here."
