"""The model store and downloader against a local stand-in for the hub (no network)."""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import urllib.error
from pathlib import Path

import pytest

from app.adapters import downloads, models
from app.adapters.models import (
    DownloadCancelled,
    ModelDownloadError,
    ModelNotInstalledError,
    ModelStore,
)
from app.adapters.whisper import WhisperTranscriber
from app.cli.main import main as cli_main
from tests.local_model import SCRIPTED_TEXT
from tests.model_server import ModelHub, add_repo, closed_port, serve_hub
from tests.synthetic_speech import speechlike

REPO = models.MODEL_REPOS["tiny"]


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A model-shaped folder: the file names of a tiny Systran conversion, random bytes."""
    folder = tmp_path / "source"
    folder.mkdir()
    rng = os.urandom
    (folder / "config.json").write_text(json.dumps({"alignment_heads": [[0, 0]]}))
    (folder / "model.bin").write_bytes(rng(700_000))
    (folder / "tokenizer.json").write_bytes(rng(90_000))
    (folder / "vocabulary.txt").write_bytes(rng(30_000))
    return folder


@pytest.fixture
def hub(model_dir: Path) -> ModelHub:
    hub = ModelHub(files={}, redirect={"model.bin"})
    add_repo(hub, REPO, model_dir)
    return hub


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names
    )


def test_download_reports_progress_and_installs(
    tmp_path: Path, hub: ModelHub, model_dir: Path
) -> None:
    store = ModelStore(tmp_path / "models", base_url=None)
    calls: list[tuple[int, int]] = []
    with serve_hub(hub):
        store.base_url = hub.base_url
        path = store.download("tiny", lambda d, t: calls.append((d, t)))
    total = sum(f.stat().st_size for f in model_dir.iterdir())
    assert path == tmp_path / "models" / "tiny"
    assert same_files(path, model_dir)  # vocabulary.txt, since there is no vocabulary.json
    assert not (tmp_path / "models" / "tiny.partial").exists()
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert all(a[0] < b[0] for a, b in itertools.pairwise(calls))
    assert {t for _, t in calls} == {total}
    # The hub's redirect was followed, and a HEAD stayed a HEAD (no body fetched for a size).
    cdn = [(s.method, s.status) for s in hub.seen if s.path.startswith("/cdn/")]
    assert cdn == [("HEAD", 200), ("GET", 200)]
    assert [m.name for m in store.installed()] == ["tiny"]
    assert store.installed()[0].size_bytes == total
    assert store.resolve("tiny") == path
    # Installed: a second download is instant and asks nothing.
    seen = len(hub.seen)
    assert store.download("tiny") == path
    assert len(hub.seen) == seen


def test_resume_after_interruption(tmp_path: Path, hub: ModelHub, model_dir: Path) -> None:
    hub.cut_once = {"model.bin"}
    calls: list[tuple[int, int]] = []
    with serve_hub(hub):
        store = ModelStore(tmp_path / "models", base_url=hub.base_url)
        path = store.download("tiny", lambda d, t: calls.append((d, t)))
    half = (model_dir / "model.bin").stat().st_size // 2
    assert hub.ranges("model.bin") == [f"bytes={half}-"]
    assert (path / "model.bin").read_bytes() == (model_dir / "model.bin").read_bytes()
    assert same_files(path, model_dir)
    assert [d for d, _ in calls] == sorted({d for d, _ in calls})  # strictly increasing
    assert calls[-1][0] == calls[-1][1]


def test_interrupted_download_keeps_its_files_for_the_next_attempt(
    tmp_path: Path, hub: ModelHub, model_dir: Path
) -> None:
    hub.cut_once = {"model.bin"}
    with serve_hub(hub):
        store = ModelStore(tmp_path / "models", base_url=hub.base_url, retries=0)
        with pytest.raises(ModelDownloadError, match="run the download again to resume"):
            store.download("tiny")
        partial = tmp_path / "models" / "tiny.partial" / "model.bin"
        half = partial.stat().st_size
        assert 0 < half < (model_dir / "model.bin").stat().st_size
        assert store.installed() == []
        assert store.resolve("tiny") is None
        path = store.download("tiny")
    assert hub.ranges("model.bin") == [f"bytes={half}-"]
    assert same_files(path, model_dir)


def test_a_file_changed_on_the_server_is_fetched_again(
    tmp_path: Path, hub: ModelHub, model_dir: Path
) -> None:
    """Resuming must not stitch two versions together: a new ETag restarts the file."""
    hub.cut_once = {"model.bin"}
    key = f"/{REPO}/resolve/main/model.bin"
    with serve_hub(hub):
        store = ModelStore(tmp_path / "models", base_url=hub.base_url, retries=0)
        with pytest.raises(ModelDownloadError):
            store.download("tiny")
        hub.files[key] = new = os.urandom(len(hub.files[key]))  # same size, new content
        path = store.download("tiny")
    assert hub.ranges("model.bin") == []  # started over, no Range
    assert (path / "model.bin").read_bytes() == new
    assert not (path / ".hark-download.json").exists()


def test_offline_is_one_line_naming_the_alternatives(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models", base_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ModelDownloadError) as info:
        store.download("base")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("Cannot download the base model: ")
    assert "refused the connection (offline?)" in message
    assert "cloud provider" in message
    assert "folder holding a CTranslate2 Whisper model" in message
    assert "hark models download" in message
    assert "Settings" not in message  # the command line has none
    assert store.installed() == []


def test_dns_failure_and_disk_full_messages() -> None:
    dns = downloads.network_error(
        urllib.error.URLError(socket.gaierror(-2, "Name or service not known")),
        "https://huggingface.co/x/resolve/main/model.bin",
    )
    assert str(dns) == "cannot resolve huggingface.co (offline?)"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_no_space_left_is_one_line(tmp_path: Path, hub: ModelHub) -> None:
    partial = tmp_path / "models" / "tiny.partial"
    partial.mkdir(parents=True)
    (partial / "model.bin").symlink_to("/dev/full")  # every write fails with ENOSPC
    with serve_hub(hub):
        store = ModelStore(tmp_path / "models", base_url=hub.base_url)
        with pytest.raises(ModelDownloadError, match="no space left on the disk") as info:
            store.download("tiny")
    assert "\n" not in str(info.value)
    assert "folder holding a CTranslate2 Whisper model" in str(info.value)


def test_http_error_names_the_status(tmp_path: Path, hub: ModelHub) -> None:
    with serve_hub(hub):
        store = ModelStore(tmp_path / "models", base_url=hub.base_url)
        with pytest.raises(ModelDownloadError, match=r"has no config\.json \(HTTP 404\)"):
            store.download("small.en")  # not on this hub


def test_cancel_keeps_partial_files(tmp_path: Path, hub: ModelHub) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done > 100_000:
            cancel.set()

    with serve_hub(hub):
        store = ModelStore(tmp_path / "models", base_url=hub.base_url)
        with pytest.raises(DownloadCancelled):
            store.download("tiny", progress, cancel)
    assert any((tmp_path / "models" / "tiny.partial").iterdir())
    assert store.installed() == []


def test_list_and_remove(tmp_path: Path, hub: ModelHub) -> None:
    with serve_hub(hub):
        store = ModelStore(tmp_path / "models", base_url=hub.base_url)
        store.download("tiny")
    (tmp_path / "models" / "base.partial").mkdir()  # unfinished: not listed
    assert [m.name for m in store.installed()] == ["tiny"]
    store.remove("tiny")
    assert store.installed() == []
    assert not (tmp_path / "models" / "tiny").exists()
    with pytest.raises(ModelNotInstalledError, match="hark models list"):
        store.remove("tiny")
    with pytest.raises(ValueError, match="not a model name"):
        store.remove("../escape")
    store.remove("base")  # an unfinished download can be removed too
    assert not (tmp_path / "models" / "base.partial").exists()


def test_cli_models_download_list_remove(
    tmp_path: Path,
    hub: ModelHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with serve_hub(hub):
        monkeypatch.setenv("HARK_MODEL_BASE_URL", hub.base_url)
        assert cli_main(["models", "download", "tiny"]) == 0
    out, err = capsys.readouterr()
    where = tmp_path / "cache" / "hark" / "models" / "tiny"
    assert out.strip() == str(where)
    lines = [ln for ln in err.splitlines() if "%" in ln]
    assert lines[-1].startswith("tiny: 100%")
    assert len(lines) <= 11  # a line per 10 % when stderr is not a terminal
    assert cli_main(["models", "list"]) == 0
    out, _ = capsys.readouterr()
    assert out.split()[0] == "tiny"
    assert str(where) in out
    assert cli_main(["models", "remove", "tiny"]) == 0
    assert not where.exists()
    capsys.readouterr()
    assert cli_main(["models", "remove", "tiny"]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("hark: error: No model named 'tiny' is installed")


def test_cli_models_download_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HARK_MODEL_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    assert cli_main(["models", "download", "base"]) == 1
    _, err = capsys.readouterr()
    last = err.splitlines()[-1]
    assert last.startswith("hark: error: Cannot download the base model: ")
    assert "cloud provider" in last
    assert err.count("error") == 1


def test_downloaded_model_loads_and_transcribes(
    tmp_path: Path,
    tiny_model: Path,
) -> None:
    hub = ModelHub(files={}, redirect={"model.bin"})
    add_repo(hub, REPO, tiny_model)
    with serve_hub(hub):
        store = ModelStore(tmp_path / "models", base_url=hub.base_url)
        path = store.download("tiny")
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json", "model.bin", "tokenizer.json", "vocabulary.json"
    ]  # fmt: skip
    # Looked up by size in the store, as the app does.
    transcriber = WhisperTranscriber("tiny", device="cpu", cpu_threads=1, cache_dir=store.root)
    assert transcriber.path == path
    result = transcriber.transcribe(
        speechlike(1.0), language=None, prompt="", word_timestamps=False, beam_size=1
    )
    assert result.text.strip() == SCRIPTED_TEXT.strip()
