"""``hark serve``: the local engine behind Baseten's streaming WebSocket protocol.

Any Baseten client can point at it: Hark's own (``--endpoint
ws://HOST:PORT/environments/production/websocket``) or the example client from
Baseten's docs. The token comes from an environment variable, never from the command
line, where other users could read it in the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
from pathlib import Path
from typing import Any

from app.adapters.models import ModelStore
from app.adapters.ws_server import TOKEN_ENV, serve
from app.cli import models as models_cli
from app.core.errors import HarkError
from app.core.options import MODEL_SIZES, LocalOptions
from app.core.urls import is_loopback_host

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
    p.add_argument("--port", type=int, default=8765, help="TCP port (8765; 0 picks a free one)")
    p.add_argument(
        "--model",
        default=LocalOptions().model,
        metavar="NAME_OR_PATH",
        help=f"a size ({', '.join(MODEL_SIZES)}; downloaded on first use) or a model folder",
    )
    p.add_argument(
        "--max-sessions", type=int, default=4, metavar="N", help="concurrent sessions (4)"
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
        "--cpu-threads", type=int, default=0, metavar="N", help="CPU threads per model (0: auto)"
    )
    p.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve wss:// with this cert")
    p.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's private key")


def _token(args: argparse.Namespace) -> str | None:
    value = os.environ.get(args.token_env, "").strip()
    if args.token_env != TOKEN_ENV and not value:
        raise HarkError(f"The environment variable {args.token_env} (--token-env) is empty.")
    return value or None


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.tls_cert is None and args.tls_key is None:
        return None
    if args.tls_cert is None:
        raise HarkError("--tls-key needs --tls-cert.")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise HarkError(f"Cannot load the TLS certificate {args.tls_cert}: {exc}") from None
    return context


def _model_path(name: str) -> Path:
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
    return asyncio.run(_serve(args, model, token, tls))


async def _serve(
    args: argparse.Namespace, model: Path, token: str | None, tls: ssl.SSLContext | None
) -> int:
    # Imported here: faster-whisper is heavy, and only serving needs it.
    from app.adapters.whisper import SileroVad, WhisperTranscriber
    from app.engine.local_server import LocalEngine

    def transcriber() -> WhisperTranscriber:
        return WhisperTranscriber(
            str(model),
            device=args.device,
            compute_type=args.compute_type,
            cpu_threads=args.cpu_threads,
        )

    engine = LocalEngine(transcriber, SileroVad, max_sessions=args.max_sessions)
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
