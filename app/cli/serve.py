"""``hark serve``: the local engine behind Baseten's streaming WebSocket protocol.

Any Baseten client can point at it: Hark's own (``--endpoint
ws://HOST:PORT/environments/production/websocket``) or the example client from
Baseten's docs. The token comes from an environment variable, never from the command
line, where other users could read it in the process list.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.argparsing import number
from app.core.errors import HarkError
from app.core.options import MODEL_SIZES, LocalOptions
from app.core.serving import IDLE_TIMEOUT_S, TOKEN_ENV
from app.core.urls import is_loopback_host

# The server, the engine and the model store are imported when the command runs, not
# when `hark --help` builds the parser (they pull in numpy, websockets, the engine).
if TYPE_CHECKING:
    import ssl

    from app.engine.local_engine import LocalEngine

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``serve`` subcommand."""
    p = sub.add_parser(
        "serve",
        help="serve the local engine over Baseten's streaming protocol",
        description="Run the local Whisper engine behind a WebSocket server that speaks "
        "Baseten's streaming protocol, for Hark (provider baseten, --endpoint "
        "ws://HOST:PORT/environments/production/websocket) or any Baseten client. "
        f"Listening beyond this machine needs a token: clients send "
        f"'Authorization: Api-Key TOKEN', and the server reads TOKEN from ${TOKEN_ENV} "
        "(or --token-env); never from the command line, where other users could see it. "
        "Stop it with Ctrl+C or SIGTERM.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument(
        "--port",
        type=number(int, minimum=0, maximum=65535),
        default=8765,
        help="TCP port (default 8765; 0 picks a free one)",
    )
    p.add_argument(
        "--model",
        default=LocalOptions().model,
        metavar="NAME_OR_PATH",
        help=f"a size ({', '.join(MODEL_SIZES)}; downloaded on first use) or a model folder",
    )
    p.add_argument(
        "--max-sessions",
        type=number(int, minimum=1, maximum=256),
        default=4,
        metavar="N",
        help="concurrent sessions (1..256, default 4)",
    )
    p.add_argument(
        "--token-env",
        default=TOKEN_ENV,
        metavar="VAR",
        help=f"environment variable holding the token ({TOKEN_ENV})",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument(
        "--compute-type",
        choices=("auto", "int8", "int8_float16", "float16", "float32"),
        default="auto",
        help="numeric precision (auto: int8 on CPU, float16 on CUDA)",
    )
    p.add_argument(
        "--cpu-threads",
        type=number(int, minimum=0, maximum=1024),
        default=0,
        metavar="N",
        help="CPU threads per model (default 0: auto)",
    )
    p.add_argument(
        "--workers",
        type=number(int, minimum=0, maximum=64),
        default=0,
        metavar="N",
        help="transcriptions run at once (0: auto, one per two CPU cores and at least 2; "
        "one per session on CUDA)",
    )
    p.add_argument(
        "--idle-timeout",
        type=number(float, above=0, what="seconds"),
        default=IDLE_TIMEOUT_S,
        metavar="S",
        help="close a client that sends nothing, or reads nothing, for this long, or whose "
        f"audio falls this far behind half real time (default {IDLE_TIMEOUT_S:g})",
    )
    p.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve wss:// with this cert")
    p.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's private key")


def _token(args: argparse.Namespace) -> str | None:
    from app.adapters.secrets import secret_from_environment  # learnt: masked in any log

    value = secret_from_environment(args.token_env)
    if args.token_env != TOKEN_ENV and not value:
        raise HarkError(f"The environment variable {args.token_env} (--token-env) is empty.")
    return value or None


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.tls_cert is None and args.tls_key is None:
        return None
    if args.tls_cert is None:
        raise HarkError("--tls-key needs --tls-cert.")
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise HarkError(f"Cannot load the TLS certificate {args.tls_cert}: {exc}") from None
    return context


def _model_path(name: str) -> Path:
    from app.adapters.models import ModelStore
    from app.cli import models as models_cli

    store = ModelStore()
    path = store.resolve(name)
    return path if path is not None else models_cli.download(store, name)


def run(args: argparse.Namespace) -> int:
    """Carry out ``hark serve``; return the exit status (0 after SIGINT or SIGTERM)."""
    token = _token(args)
    tls = _tls(args)
    if not token and not is_loopback_host(args.host):
        # Fail before loading (or downloading) a model; serve() checks this too.
        raise HarkError(
            f"Listening on {args.host} lets other machines connect, so it needs a token: "
            f"set {TOKEN_ENV} (or name another variable with --token-env)."
        )
    if token and tls is None and not is_loopback_host(args.host):
        log.warning(
            "plain ws://: the token and the audio cross the network unencrypted, and Hark "
            "clients refuse ws:// to other machines; pass --tls-cert/--tls-key or put a TLS "
            "proxy in front"
        )
    model = _model_path(args.model)
    import asyncio

    return asyncio.run(_serve(args, model, token, tls))


def build_engine(
    model: Path,
    *,
    device: str,
    compute_type: str,
    max_sessions: int,
    cpu_threads: int = 0,
    workers: int = 0,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
) -> LocalEngine:
    """The engine ``hark serve`` runs: sessions transcribed in parallel where cores allow.

    A client streaming audio at less than half real time is closed once it falls
    ``idle_timeout_s`` behind (``slow_client_grace_s``): it would hold a slot for ever.

    ``workers`` transcriptions run at once (0: one per two CPU cores on the CPU, at
    least two, and never more than ``max_sessions``; on CUDA one per session), each
    with ``cpu_threads`` threads (0: the cores shared out among the workers). One
    session alone then leaves cores to the next: on a 2-core machine two workers of
    one thread each finish four sessions in about twice the time of one, where one
    worker of two threads took four times as long.
    """
    # Imported here: faster-whisper is heavy, and only serving needs it.
    from app.adapters.whisper import SileroVad, WhisperTranscriber
    from app.engine.local_engine import LocalEngine

    cores = os.cpu_count() or 1
    if workers <= 0:
        workers = max_sessions if device == "cuda" else max(2, cores // 2)
    workers = max(1, min(workers, max_sessions))
    if cpu_threads <= 0 and device != "cuda":
        cpu_threads = max(1, cores // workers)

    def transcriber() -> WhisperTranscriber:
        return WhisperTranscriber(
            str(model),
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            workers=workers,
        )

    return LocalEngine(
        transcriber,
        SileroVad,
        max_sessions=max_sessions,
        workers=workers,
        slow_client_grace_s=idle_timeout_s,
    )


async def _serve(
    args: argparse.Namespace, model: Path, token: str | None, tls: ssl.SSLContext | None
) -> int:
    import asyncio

    from app.adapters.ws_server import serve

    engine = build_engine(
        model,
        device=args.device,
        compute_type=args.compute_type,
        max_sessions=args.max_sessions,
        cpu_threads=args.cpu_threads,
        workers=args.workers,
        idle_timeout_s=args.idle_timeout,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)  # not on Windows: Ctrl+C interrupts
    try:
        server = await serve(
            engine,
            host=args.host,
            port=args.port,
            token=token,
            max_sessions=args.max_sessions,
            ssl_context=tls,
            idle_timeout_s=args.idle_timeout,
        )
    except OSError as exc:
        await engine.aclose()
        raise HarkError(
            f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    print(f"{server.describe()}; model {model}", flush=True)
    try:
        await stop.wait()
    finally:
        print("hark: shutting down", file=sys.stderr, flush=True)
        server.close()
        await server.wait_closed()
        await engine.aclose()
    return 0
