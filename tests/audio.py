"""A real, file-fed microphone for tests: a private PulseAudio daemon.

See docs/desktop-integration.md §7.

``virtual_microphone(tmp_path)`` starts ``pulseaudio`` with its own runtime directory
and socket, a null sink ``vsink`` (``norewinds=1``, so a recording stream opened late
does not get earlier audio replayed) and ``vmic``, a remap of the sink's monitor, as
the default source. ``play(wav)`` feeds the sink with ``paplay``, which the null sink
clocks at real time, so whatever records from ``vmic`` (PortAudio's ALSA ``default``
and ``pulse`` devices, through libasound2-plugins) hears the file like a microphone.

Two ways to use it:

- subprocesses: pass ``mic.env`` (or merge ``mic.pulse_vars`` into your own env);
- in-process: ``with mic.apply():`` sets those variables in ``os.environ`` and
  re-initialises PortAudio, which reads its device list only when initialised (at
  ``import sounddevice``); on exit both are restored. Close every stream first.

Nothing here touches a user's own PulseAudio: every path lives under ``tmp_path``,
clients find the daemon through ``PULSE_SERVER`` and never autospawn one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.helpers import TIMEOUT_FACTOR, need_tool

SINK = "vsink"
SOURCE = "vmic"
READY_TIMEOUT_S = 10.0


def reinitialize_portaudio() -> None:
    """Make sounddevice re-read the device list (after the Pulse environment changed).

    sounddevice initialises PortAudio once, at import; ``_terminate``/``_initialize``
    are its (private but long-standing) way to refresh. No stream may be open.
    """
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


class VirtualMicrophone:
    """A running private PulseAudio daemon with a null sink and a microphone on its monitor.

    Attributes:
        root: The directory holding the daemon's runtime dir, state, cookie and log.
        pulse_vars: The variables a client needs (``PULSE_SERVER``, ``PULSE_RUNTIME_PATH``,
            ``XDG_RUNTIME_DIR``, ``PULSE_COOKIE``, ``PULSE_CLIENTCONFIG``).
        env: ``os.environ`` (as when started) plus ``pulse_vars``, for subprocesses.
        process: The ``pulseaudio`` process.
    """

    def __init__(self, root: Path, process: subprocess.Popen[bytes], pulse_vars: dict[str, str]):
        self.root = root
        self.process = process
        self.pulse_vars = pulse_vars
        self.env = {**os.environ, **pulse_vars}
        self.log_path = root / "pulse.log"
        self._players: list[subprocess.Popen[bytes]] = []

    @property
    def server(self) -> str:
        """The daemon's address, as ``PULSE_SERVER`` takes it."""
        return self.pulse_vars["PULSE_SERVER"]

    def pactl(self, *args: str) -> str:
        """Run ``pactl ARGS`` against this daemon and return its output."""
        done = subprocess.run(
            [need_tool("pactl"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10 * TIMEOUT_FACTOR,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"pactl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def play(self, wav: Path) -> subprocess.Popen[bytes]:
        """Start playing ``wav`` into the sink, in real time; return the ``paplay`` process.

        Cleanup kills it if it is still running.
        """
        proc = subprocess.Popen(
            [need_tool("paplay"), "--latency-msec=20", "-d", SINK, str(wav)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._players.append(proc)
        return proc

    @contextlib.contextmanager
    def apply(self) -> Iterator[VirtualMicrophone]:
        """Point this process's PulseAudio clients (and PortAudio) at the daemon, then undo."""
        try:
            with patched_environ(self.pulse_vars):
                reinitialize_portaudio()
                yield self
        finally:  # with the process's own environment back
            reinitialize_portaudio()

    def freeze(self) -> None:
        """Stop the daemon (SIGSTOP): recording streams stall, as with a hung device."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume the daemon after :meth:`freeze`."""
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Kill the daemon at once, as if the device was unplugged."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)

    def close(self) -> None:
        """Stop the players and the daemon."""
        for proc in self._players:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ``; restore the previous values (or absence) on exit."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def pulse_client_vars(root: Path, server: str) -> dict[str, str]:
    """Client variables for a daemon at ``server``, with private cookie and config under root.

    Also usable to point clients at a server that does not exist (no autospawn).
    """
    runtime = root / "runtime"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    client_conf = root / "client.conf"
    client_conf.write_text("autospawn = no\n")
    return {
        "PULSE_SERVER": server,
        "PULSE_RUNTIME_PATH": str(runtime / "pulse"),
        "XDG_RUNTIME_DIR": str(runtime),
        "PULSE_COOKIE": str(root / "cookie"),
        "PULSE_CLIENTCONFIG": str(client_conf),
    }


@contextlib.contextmanager
def virtual_microphone(tmp_path: Path) -> Iterator[VirtualMicrophone]:
    """Start a private PulseAudio daemon with a virtual microphone; stop it on exit."""
    root = tmp_path / "pulse"
    root.mkdir(parents=True, exist_ok=True)
    pulse_vars = pulse_client_vars(root, "")
    socket = Path(pulse_vars["PULSE_RUNTIME_PATH"]) / "native"
    pulse_vars["PULSE_SERVER"] = f"unix:{socket}"
    daemon_env = {**os.environ, **pulse_vars, "PULSE_STATE_PATH": str(root / "state")}
    command = [
        need_tool("pulseaudio"),
        "--daemonize=no",
        "--exit-idle-time=-1",
        "--disallow-exit",
        "-n",  # no default.pa: only the modules below
        "--load=module-native-protocol-unix auth-anonymous=1",
        f"--load=module-null-sink sink_name={SINK} norewinds=1 "
        "sink_properties=device.description=VirtualSink",
        f"--load=module-remap-source master={SINK}.monitor source_name={SOURCE} "
        "source_properties=device.description=VirtualMic",
        f"--log-target=file:{root / 'pulse.log'}",
    ]
    process = subprocess.Popen(
        command, env=daemon_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    mic = VirtualMicrophone(root, process, pulse_vars)
    try:
        _wait_ready(mic)
        mic.pactl("set-default-source", SOURCE)
        yield mic
    finally:
        mic.close()


def _wait_ready(mic: VirtualMicrophone) -> None:
    """Poll ``pactl info`` until the daemon answers (it starts in well under a second)."""
    deadline = time.monotonic() + READY_TIMEOUT_S * TIMEOUT_FACTOR
    while True:
        if mic.process.poll() is not None:
            log = mic.log_path.read_text() if mic.log_path.exists() else ""
            raise AssertionError(f"pulseaudio exited ({mic.process.returncode}):\n{log}")
        done = subprocess.run(
            [need_tool("pactl"), "info"], env=mic.env, capture_output=True, check=False
        )
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"pulseaudio did not answer within {READY_TIMEOUT_S:g} s")
        time.sleep(0.05)
