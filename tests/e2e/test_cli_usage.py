"""The command line's promises: one ``hark: error:`` line and exit 1 for every usage
mistake, -v anywhere, range-checked numbers, per-provider help, clear audio-file errors,
and a quiet end when the reader of stdout goes away.

Parsing is tested in-process (``app.cli.main.main``); what goes through the entry point
(``python -m app``) or a pipe runs as a subprocess.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile

from app.cli.main import main
from tests.emulators import Script, TogetherEmulator, Utterance
from tests.helpers import ROOT, TIMEOUT_FACTOR, hark_env, run_hark


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    captured = capsys.readouterr()
    assert info.value.code == 1, captured.err
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("hark: error: ")
    assert "--help`." in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["transcribe", "a.wav", "--provider", "nope"], "invalid choice: 'nope'"),
        (["transcribe", "a.wav", "--provider", "local", "--beam-width", "x"], "whole number"),
        (["transcribe", "a.wav", "--provider", "local", "--vad-threshold", "half"], "a number"),
        (["transcribe", "a.wav", "--provider", "local", "--connect-timeout", "-1"], "more than 0"),
        (["transcribe", "a.wav", "--provider", "local", "--flush-timeout", "-1"], "more than 0"),
        (["transcribe", "a.wav", "--provider", "local", "--flush-timeout", "nan"], "finite"),
        (["transcribe", "a.wav", "--provider", "local", "--vad-threshold", "nan"], "finite"),
        (["transcribe", "--provider", "local"], "required: AUDIO_FILE"),
        (["transcribe", "a.wav", "--provider", "local", "--format", "xml"], "invalid choice"),
        (["serve", "--port", "99999"], "0..65535"),
        (["serve", "--max-sessions", "0"], "1..256"),
        (["serve", "--workers", "-2"], "0..64"),
        (["models", "download", "huge"], "invalid choice: 'huge'"),
        (["keys", "set"], "required: provider"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert says in _usage_error(capsys, *argv)


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--beam-width", "16"], "--beam-width: must be between 1 and 10, got 16"),
        (["--device", "gpu"], "--device: must be one of 'auto', 'cpu', 'cuda', got 'gpu'"),
        (["--model-id", "abc"], "--model-id: is not a local option (it applies to: baseten)"),
    ],
)
def test_values_the_provider_refuses_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flags: list[str], says: str
) -> None:
    code = main(["transcribe", str(tmp_path / "a.wav"), "--provider", "local", *flags])
    err = capsys.readouterr().err
    assert code == 1
    assert err == f"hark: error: {says}\n"


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps at the terminal width


def test_help_for_one_provider_shows_its_own_ranges_choices_and_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    local = _help(capsys, "transcribe", "--provider", "local")
    assert "--beam-width N Beam search width (1 = greedy, fastest) (1..10, default 5)" in local
    assert "1..16" not in local  # Baseten's range for the same flag
    assert "--model-id" not in local
    assert "--endpoint" not in local
    assert "or the path of a folder holding a CTranslate2 Whisper model (default base)" in local
    assert "--device {auto,cpu,cuda}" in local
    assert "(default 60; the local engine transcribes then)" in local
    assert "--unload-after-min" not in local  # the app's setting: a transcribe exits anyway

    baseten = _help(capsys, "transcribe", "--provider=baseten")
    assert "--beam-width N Beam search width (1 = greedy) (1..16, default 1)" in baseten
    assert "--model-id" in baseten
    assert "--compute-type" not in baseten


def test_help_without_a_provider_shows_every_providers_range(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _help(capsys, "transcribe")
    assert "baseten: Beam search width (1 = greedy) (1..16, default 1)" in text
    assert "local: Beam search width (1 = greedy, fastest) (1..10, default 5)" in text
    assert "`hark transcribe --provider NAME --help`" in text


def test_top_level_help_lists_self_check_and_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)
    assert "`hark --self-check`" in text
    assert "-v/--verbose works before or after any command" in text


def _wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: _wav(p, np.zeros(0)), "holds no audio (0 samples)"),
        (lambda p: _wav(p, np.zeros(16000)), "is silent throughout (loudest sample: digital"),
        (lambda p: (p.write_bytes(_wav(p, np.ones(8000) * 9000).read_bytes()[:30]), p)[1],
         "cannot read it as audio"),
    ],
)  # fmt: skip
async def test_empty_silent_and_broken_files_fail_before_connecting(
    tmp_path: Path, make: object, says: str
) -> None:
    path = make(tmp_path / "in.wav")  # type: ignore[operator]
    # A key-needing provider at a closed port: the file is refused before either matters.
    done = await run_hark(
        "transcribe", str(path), "--provider", "together", "--endpoint", "ws://127.0.0.1:9/x",
        env=hark_env(tmp_path),
    )  # fmt: skip
    assert done.code == 1
    assert done.out == ""
    assert done.err.startswith(f"hark: error: {path}: {says}"), done.err
    assert len(done.err.splitlines()) == 1


@pytest.mark.parametrize("verbose", [["-v", "transcribe"], ["transcribe", "-vv"]])
async def test_a_flac_file_is_transcribed_with_v_before_or_after_the_command(
    tmp_path: Path, verbose: list[str]
) -> None:
    t = np.arange(16000 * 2) / 16000
    soundfile.write(tmp_path / "in.flac", 0.3 * np.sin(2 * np.pi * 220 * t), 16000)
    script = Script([Utterance("hello from a flac file", final_at=1.0)])
    async with TogetherEmulator(script, api_key="k") as emu:
        done = await run_hark(
            *verbose, str(tmp_path / "in.flac"), "--provider", "together",
            "--endpoint", emu.url, "--fast", env=hark_env(tmp_path, TOGETHER_API_KEY="k"),
        )  # fmt: skip
    assert done.code == 0, done.err
    assert done.out.strip() == "hello from a flac file"
    assert "hark: info: in.flac" not in done.err  # paths are logged whole
    assert f"hark: info: {tmp_path / 'in.flac'}: FLAC/PCM_16, 16000 Hz, 1 channel(s)" in done.err
    assert ("hark: debug:" in done.err) == (verbose[1] == "-vv")


async def test_a_reader_that_goes_away_is_no_error(tmp_path: Path) -> None:
    """``hark transcribe ... --format jsonl | head -1``: no BrokenPipeError traceback."""
    t = np.arange(16000 * 2) / 16000
    soundfile.write(tmp_path / "in.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 16000)
    # Real-time pacing: the finals come after the reader has gone.
    script = Script([Utterance(f"line {n}", final_at=0.4 * (n + 1)) for n in range(4)])
    async with TogetherEmulator(script, api_key="k") as emu:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "transcribe", str(tmp_path / "in.wav"),
            "--provider", "together", "--endpoint", emu.url, "--format", "jsonl",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=hark_env(tmp_path, TOGETHER_API_KEY="k"), cwd=ROOT,
        )  # fmt: skip
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = await asyncio.wait_for(proc.stdout.readline(), 30 * TIMEOUT_FACTOR)
        assert first.startswith(b"{")
        proc.stdout.feed_eof()
        transport = proc._transport  # type: ignore[attr-defined]
        transport.get_pipe_transport(1).close()  # what `head` does: close its end
        err = await asyncio.wait_for(proc.stderr.read(), 30 * TIMEOUT_FACTOR)
        code = await proc.wait()
    assert b"Traceback" not in err, err.decode()
    assert code == 0, err.decode()


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["transcribe", "--help"], ["transcribe", "--provider", "nope", "a.wav"],
     ["serve", "--help"], ["keys", "--help"], ["models", "--help"], ["--version"]],
)  # fmt: skip
def test_help_and_usage_errors_import_nothing_heavy(tmp_path: Path, argv: list[str]) -> None:
    """Building the parser must not load what the commands stream with."""
    probe = (
        f"import sys; sys.argv = ['hark', *{argv!r}]\n"
        "from app.__main__ import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'asyncio', 'keyring', 'websockets', 'soundfile',"
        " 'app.engine', 'faster_whisper') if m in sys.modules]\n"
        "print('heavy:', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=hark_env(tmp_path), cwd=ROOT, capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.stderr.splitlines()[-1] == "heavy: []", done.stderr
