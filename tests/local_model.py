"""Tiny Whisper models for the local engine's tests, built offline.

Nothing is downloaded: the weights come from numpy, the model is saved in CTranslate2
format with ``ctranslate2.specs``, and ``tokenizer.json`` is built with ``tokenizers``.
The real faster-whisper code then loads and runs it.

Two kinds:

- **scripted** (the default): the decoder's weights are set so that decoding always
  emits ``<|0.00|> " hello" " world" <|1.00|> <|endoftext|>``, so the text is
  ``" hello world"`` whatever the audio, with no temperature fallback (fast, and
  something to assert on). Cross-attention queries and keys stay random so word
  timestamps get distinct times.
- **random**: every weight random; the text is garbage and faster-whisper retries every
  temperature, which makes it slower (a closer stand-in for real decoding work).

English-only models have no ``""`` token; multilingual ones have it plus ``<|en|>``,
``<|de|>`` and ``<|fr|>`` (ctranslate2 >= 4.7 decides multilinguality by that token).

Fixtures: ``tiny_model`` (English-only, scripted), ``tiny_multilingual_model``
(scripted) and ``tiny_random_model`` (English-only, random); session-scoped. tests/conftest.py
registers them for every test module.

The scripted models also steer the decoder's cross-attention so that word timestamps
come out distinct and ordered (`` hello`` from 0 s, `` world`` up to about 1 s).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

D_MODEL = 64
HEADS = 2
N_MELS = 80
LANGUAGES = ("en", "de", "fr")
WORDS = (" hello", " world")
SCRIPTED_TEXT = " hello world"

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in these tests may reach the hub


def _byte_chars() -> list[str]:
    """GPT-2's byte-to-unicode table: byte b is the character at index b."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def _vocabulary(multilingual: bool) -> tuple[list[str], list[str], list[str]]:
    """Return (text tokens, special tokens, timestamp tokens) in id order."""
    chars = _byte_chars()
    text = chars + [w.replace(" ", chars[ord(" ")]) for w in WORDS]
    if multilingual:
        text.append("")  # ctranslate2 >= 4.7: this token makes the model multilingual
    specials = ["<|endoftext|>", "<|startoftranscript|>"]
    if multilingual:
        specials += [f"<|{code}|>" for code in LANGUAGES]
    specials += [
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nocaptions|>",
        "<|notimestamps|>",
    ]
    timestamps = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]
    return text, specials, timestamps


def _save_tokenizer(path: Path, text: list[str], specials: list[str], stamps: list[str]) -> None:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(text) if t}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    if "" in text:
        # tokenizers cannot hold an empty token; it is never produced or decoded here.
        tok.add_tokens([AddedToken(f"<|unused{len(text) - 1}|>", special=True)])
    tok.add_special_tokens([AddedToken(s, special=True) for s in specials])
    tok.add_tokens([AddedToken(s, special=True) for s in stamps])
    tok.save(str(path / "tokenizer.json"))


def build_tiny_model(out_dir: Path, *, multilingual: bool = False, scripted: bool = True) -> Path:
    """Write a tiny CTranslate2 Whisper model and its ``tokenizer.json`` into ``out_dir``.

    Args:
        out_dir: The model folder (created if needed).
        multilingual: Add the ``""`` token and three language tokens.
        scripted: Make decoding always produce :data:`SCRIPTED_TEXT` (else random weights).

    Returns:
        ``out_dir``.
    """
    from ctranslate2.specs import whisper_spec

    out_dir.mkdir(parents=True, exist_ok=True)
    text, specials, stamps = _vocabulary(multilingual)
    tokens = text + specials + stamps
    ids = {t: i for i, t in enumerate(tokens)}
    vocab = len(tokens)
    d, ffn = D_MODEL, 4 * D_MODEL
    rng = np.random.default_rng(1234)

    def rnd(*shape: int, scale: float = 0.05) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def zeros(*shape: int) -> np.ndarray:
        return np.zeros(shape, np.float32)

    def ones(*shape: int) -> np.ndarray:
        return np.ones(shape, np.float32)

    spec = whisper_spec.WhisperSpec(1, HEADS, 1, HEADS)
    enc, dec = spec.encoder, spec.decoder
    enc.conv1.weight, enc.conv1.bias = rnd(d, N_MELS, 3), zeros(d)
    enc.conv2.weight, enc.conv2.bias = rnd(d, d, 3), zeros(d)
    enc.position_encodings.encodings = rnd(1500, d)
    enc.layer_norm.gamma, enc.layer_norm.beta = ones(d), zeros(d)
    for layer in (enc.layer[0], dec.layer[0]):
        att = layer.self_attention
        att.layer_norm.gamma, att.layer_norm.beta = ones(d), zeros(d)
        att.linear[0].weight, att.linear[0].bias = rnd(3 * d, d), zeros(3 * d)
        att.linear[1].weight, att.linear[1].bias = rnd(d, d), zeros(d)
        layer.ffn.layer_norm.gamma, layer.ffn.layer_norm.beta = ones(d), zeros(d)
        layer.ffn.linear_0.weight, layer.ffn.linear_0.bias = rnd(ffn, d), zeros(ffn)
        layer.ffn.linear_1.weight, layer.ffn.linear_1.bias = rnd(d, ffn), zeros(d)
    cross = dec.layer[0].attention
    cross.layer_norm.gamma, cross.layer_norm.beta = ones(d), zeros(d)
    cross.linear[0].weight, cross.linear[0].bias = rnd(d, d, scale=0.5), zeros(d)
    cross.linear[1].weight, cross.linear[1].bias = rnd(2 * d, d, scale=0.5), zeros(2 * d)
    cross.linear[2].weight, cross.linear[2].bias = rnd(d, d), zeros(d)
    dec.layer_norm.gamma, dec.layer_norm.beta = ones(d), zeros(d)
    dec.position_encodings.encodings = rnd(448, d)
    embeddings = rnd(vocab, d)
    projection = embeddings

    if scripted:
        # Every residual block adds 0 and positions are 0, so the logits depend only on
        # the current token's embedding, which is 10x the projection row of the next token.
        layer = dec.layer[0]
        layer.self_attention.linear[1].weight = zeros(d, d)
        layer.ffn.linear_1.weight = zeros(d, ffn)
        cross.linear[1].weight[d:] = 0.0  # value half of the fused key/value
        cross.linear[2].weight = zeros(d, d)
        dec.position_encodings.encodings = zeros(448, d)
        dec.layer_norm.gamma = np.full(d, 6.0, np.float32)
        projection = rng.standard_normal((vocab, d)).astype(np.float32)
        projection -= projection.mean(axis=1, keepdims=True)
        projection /= np.linalg.norm(projection, axis=1, keepdims=True)
        embeddings = rnd(vocab, d)
        hello, world = (ids[w.replace(" ", _byte_chars()[32])] for w in WORDS)
        first_stamp, one_second = ids["<|0.00|>"], ids["<|1.00|>"]
        sot_next = ids["<|en|>"] if multilingual else first_stamp
        script = {
            ids["<|startoftranscript|>"]: sot_next,
            ids["<|transcribe|>"]: first_stamp,
            ids["<|translate|>"]: first_stamp,
            ids["<|notimestamps|>"]: hello,
            first_stamp: hello,
            hello: world,
            world: one_second,
            one_second: ids["<|endoftext|>"],
        }
        if multilingual:  # a prompt ending in a language token (no task) also starts the text
            for code in LANGUAGES:
                script[ids[f"<|{code}|>"]] = first_stamp
        for token, following in script.items():
            embeddings[token] = 10.0 * projection[following]
        _steer_alignment(
            spec,
            projection,
            {ids["<|notimestamps|>"]: hello, hello: world, world: one_second},
            [0.0, 0.5, 1.0],
        )

    dec.embeddings.weight = embeddings
    dec.projection.weight = projection
    spec.config.suppress_ids = []
    spec.config.suppress_ids_begin = [ids[_byte_chars()[32]], ids["<|endoftext|>"]]
    spec.config.lang_ids = [ids[f"<|{c}|>"] for c in LANGUAGES] if multilingual else []
    spec.config.alignment_heads = [[0, h] for h in range(HEADS)]
    _save_tokenizer(out_dir, text, specials, stamps)
    spec.register_vocabulary(tokens)
    spec.validate()
    spec.optimize(quantization=None)
    spec.save(str(out_dir))
    (out_dir / "hark-test-model.json").write_text(
        json.dumps({"multilingual": multilingual, "scripted": scripted})
    )
    return out_dir


def _steer_alignment(
    spec: Any, projection: np.ndarray, rows: dict[int, int], places: list[float]
) -> None:
    """Give word timestamps distinct, ordered times (faster-whisper drops a 0 s segment).

    Word times come from dynamic time warping over the decoder's cross-attention. Here
    the encoder's output is made to depend only on time: its position encodings point
    in a direction that turns through 90 degrees over the first second (then stays),
    everything else is near zero. Each text token's cross-attention query points at its
    own place in that turn (0, 0.5, 1 of it), so the first word attends to the start of
    the audio and the last to 1 s and later. Values and outputs stay zero, so the text
    does not change.
    """
    d, half = D_MODEL, D_MODEL // HEADS
    enc = spec.encoder
    enc.conv1.weight = enc.conv1.weight * 0.001
    enc.conv2.weight = enc.conv2.weight * 0.001
    layer = enc.layer[0]
    layer.self_attention.linear[1].weight = np.zeros((d, d), np.float32)
    layer.ffn.linear_1.weight = np.zeros((d, 4 * d), np.float32)
    frames = np.arange(1500)
    theta = (np.pi / 2) * np.minimum(frames, 50) / 50  # 50 encoder frames = 1 s
    pos = np.zeros((1500, d), np.float32)
    for head in range(HEADS):
        pos[:, head * half] = 10 * np.cos(theta)
        pos[:, head * half + 1] = 10 * np.sin(theta)
    enc.position_encodings.encodings = pos
    cross = spec.decoder.layer[0].attention
    keys = np.zeros((d, d), np.float32)
    query = np.zeros((d, d), np.float32)
    for head in range(HEADS):
        keys[head * half, head * half] = keys[head * half + 1, head * half + 1] = 1.0
    for (_token, following), place in zip(rows.items(), places, strict=True):
        phi = (np.pi / 2) * place
        direction = np.zeros(d, np.float32)
        for head in range(HEADS):
            direction[head * half] = np.cos(phi)
            direction[head * half + 1] = np.sin(phi)
        # The cross-attention input is the layer-normed embedding, about 8x projection[following].
        query += 3.0 * np.outer(direction, projection[following]).astype(np.float32)
    cross.linear[0].weight = query
    fused = np.array(cross.linear[1].weight)
    fused[:d] = keys
    cross.linear[1].weight = fused


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An English-only scripted model folder (always transcribes " hello world")."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-en")


@pytest.fixture(scope="session")
def tiny_multilingual_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multilingual scripted model folder (detects "en" with probability 1)."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-ml", multilingual=True)


@pytest.fixture(scope="session")
def tiny_random_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An English-only model with random weights (garbage text, full temperature fallback)."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-rand", scripted=False)
