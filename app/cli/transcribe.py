"""``hark transcribe``: stream an audio file through a real provider session.

The file is paced like a live microphone unless ``--fast``. ``--format text`` prints
the final transcript; ``--format jsonl`` prints one JSON object per event as it
arrives.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from app.argparsing import number
from app.cli.option_flags import add_option_flags, flag_name, options_from_args
from app.core.errors import MissingKeyError, ProviderFailure, SettingError
from app.core.events import (
    ConfigRejected,
    Event,
    Final,
    FlushAck,
    Partial,
    ProviderError,
    SessionEnded,
    SessionReady,
)
from app.core.options import (
    KEYED_PROVIDERS,
    OPTIONS_BY_PROVIDER,
    PROVIDER_TITLES,
    BasetenOptions,
    LocalOptions,
    key_optional,
)
from app.core.settings import LOCAL_FLUSH_TIMEOUT_S, flush_timeout_s

# What streams (numpy, libsndfile, keyring, websockets, the engine) is imported when the
# command runs, not when `hark --help` builds the parser.
if TYPE_CHECKING:
    from app.adapters.logfile import SecretFilter
    from app.engine.local_engine import LocalEngine

log = logging.getLogger(__name__)

RECONNECTS = 3
"""A dropped connection costs no words: the whole file is at hand to send again."""

_EVENT_TYPES: dict[type, str] = {
    Partial: "partial",
    Final: "final",
    FlushAck: "flush_ack",
    ProviderError: "error",
    SessionEnded: "session_ended",
    SessionReady: "session_ready",
    ConfigRejected: "config_rejected",
}


def register(sub: Any, provider: str | None = None) -> None:
    """Add the ``transcribe`` subcommand.

    Args:
        sub: The subparsers action.
        provider: The provider the command line names; its options alone are shown.
    """
    known = provider if provider in OPTIONS_BY_PROVIDER else None
    p = sub.add_parser(
        "transcribe",
        help="transcribe an audio file through a streaming provider",
        description="Stream an audio file (WAV of any kind, FLAC, OGG/Opus or MP3; any "
        "sample rate and channel count) through a provider session, paced like a live "
        "microphone, and print the transcript."
        + (
            ""
            if known
            else " `hark transcribe --provider NAME --help` lists NAME's options alone, "
            "with its ranges and defaults."
        ),
    )
    p.add_argument("audio_file", metavar="AUDIO_FILE", help="the audio file")
    p.add_argument(
        "--provider",
        required=True,
        choices=sorted(OPTIONS_BY_PROVIDER),
        help="local: offline, no account; the others need an API key (`hark keys set NAME`)",
    )
    p.add_argument("--fast", action="store_true", help="send as fast as possible, not real time")
    p.add_argument(
        "--format",
        choices=("text", "jsonl"),
        default="text",
        dest="output_format",
        help="text: the final transcript; jsonl: every event as a JSON line (default text)",
    )
    p.add_argument(
        "--connect-timeout",
        type=number(float, above=0, what="seconds"),
        default=10.0,
        metavar="S",
        help="handshake limit in seconds (default 10)",
    )
    default_flush = {None: f"5; {LOCAL_FLUSH_TIMEOUT_S:g} for local", "local": "60"}
    p.add_argument(
        "--flush-timeout",
        type=number(float, above=0, what="seconds"),
        default=None,
        metavar="S",
        help="seconds to wait for the provider after the end of the audio (default "
        f"{default_flush.get(known, '5')}; the local engine transcribes then)",
    )
    p.add_argument(
        "--reconnects",
        type=number(int, minimum=0, maximum=10),
        default=RECONNECTS,
        metavar="N",
        help="times a lost connection is replaced by a new one, sent the audio again from "
        f"its last final (0..10, default {RECONNECTS})",
    )
    add_option_flags(p, provider=known)


def event_to_json(event: Event) -> dict[str, Any]:
    """One event as a JSON-ready dict with at least ``type`` and ``text``."""
    data = asdict(event)
    data = {k: v for k, v in data.items() if v not in (None, (), [])}
    data.setdefault("text", data.pop("message", ""))
    return {"type": _EVENT_TYPES[type(event)], **data}


async def run(args: argparse.Namespace, secrets: SecretFilter | None = None) -> int:
    """Carry out ``hark transcribe``; return the exit status.

    Args:
        args: The parsed command line.
        secrets: Learns the API key, so that no log line can show it.
    """
    from app.adapters.audiofile import AudioFileSource
    from app.adapters.logfile import SecretFilter
    from app.adapters.secrets import KeyringSecretStore, resolve_key
    from app.adapters.state import FileSchemaMemory
    from app.adapters.ws_transport import open_connection
    from app.core.providers.registry import build_protocol
    from app.engine.local_connector import LocalConnector
    from app.engine.pacing import RealtimeSource
    from app.engine.session import StreamingSession

    secrets = secrets or SecretFilter()
    options = options_from_args(args.provider, args)
    if (
        args.fast
        and isinstance(options, LocalOptions)
        and getattr(args, "opt_partials", None) is None
    ):
        # Nobody watches partials of a file sent at full speed; each one would cost a
        # model pass. Asked for explicitly (--partials true), they still run.
        options = dataclasses.replace(options, partials=False)
    title = PROVIDER_TITLES[args.provider]
    try:  # fail fast on a bad endpoint, before asking for the key
        build_protocol(options).connect_request("")
    except SettingError as exc:
        raise SettingError(flag_name(exc.name), exc.message) from None
    source = AudioFileSource(args.audio_file)
    key = ""  # the local engine needs none
    if args.provider in KEYED_PROVIDERS:
        try:
            key, where = resolve_key(KeyringSecretStore(), args.provider, title)
            secrets.add(key)
            log.info("using the %s API key from the %s", title, where)
        except MissingKeyError:
            if not key_optional(options):
                raise
            log.info("no %s API key: connecting to this machine's endpoint without one", title)
    if isinstance(options, BasetenOptions) and options.schema == "legacy":
        protocol = build_protocol(options, schema="legacy")
        ignored = protocol.unsupported_options()
        if ignored:
            log.warning("the legacy Baseten schema cannot carry: %s", ", ".join(ignored))

    errors: list[ProviderError] = []

    def on_event(event: Event) -> None:
        if isinstance(event, ProviderError):
            errors.append(event)
        if args.output_format == "jsonl":
            print(json.dumps(event_to_json(event), ensure_ascii=False), flush=True)

    flush_timeout = args.flush_timeout
    if flush_timeout is None:
        flush_timeout = flush_timeout_s(options.provider)
    connector = LocalConnector(_local_engine, fallback=open_connection)

    def on_reconnect(attempt: int, reason: str) -> None:
        # What the lost connection reported is superseded by the new one's work.
        errors.clear()
        # The session logs the reconnect; a jsonl reader learns that what follows
        # replaces what came before: the finals kept, then the rest of the file.
        if args.output_format == "jsonl":
            print(json.dumps({"type": "reconnect", "attempt": attempt, "text": reason}), flush=True)

    def on_retry(seconds: float, reason: str) -> None:
        # Stderr has the session's warning; a jsonl reader gets it in the stream too.
        if args.output_format == "jsonl":
            print(json.dumps({"type": "retry", "after_s": seconds, "text": reason}), flush=True)

    session = StreamingSession(
        options,
        key,
        connector,
        schema_memory=FileSchemaMemory(),
        connect_timeout=args.connect_timeout,
        flush_timeout=flush_timeout,
        on_event=on_event,
        reconnect_attempts=args.reconnects,
        on_reconnect=on_reconnect,
        on_retry=on_retry,
        max_replay_s=source.duration + 1.0,  # all of it, whatever the length
    )
    try:
        result = await session.run(source if args.fast else RealtimeSource(source))
    finally:
        await connector.aclose()
    if args.output_format == "text":
        print(result.transcript.text, flush=True)
    unreadable = [e for e in errors if e.code == "protocol"]
    if unreadable:
        # Skipped, and the session went on; but one of them may have been a final.
        n = len(unreadable)
        raise ProviderFailure(
            f"{title} sent {n} message{'s' if n > 1 else ''} Hark could not read, skipped "
            f"(first: {unreadable[0].message}); the transcript may have gaps."
        )
    if errors:
        # The session went on (the provider called the error recoverable), but the
        # transcript may have gaps: say so, and fail the command.
        raise ProviderFailure(f"{title} reported an error: {errors[0].message}")
    if not result.flush_confirmed:
        log.info("%s sent nothing after the end of the audio; assumed complete", title)
    return 0


def _local_engine(options: LocalOptions) -> LocalEngine:
    """The local engine for ``options``' model (one session: a file)."""
    from app.adapters.whisper import whisper_factories
    from app.engine.local_engine import LocalEngine

    return LocalEngine(*whisper_factories(options), max_sessions=1)
