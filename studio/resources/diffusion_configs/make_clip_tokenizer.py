"""Write the CLIP BPE tokenizer files Studio ships in ``clip_tokenizer/`` (no network).

Stable Diffusion 1.x/2.x/XL all use the CLIP BPE vocabulary of OpenAI's CLIP (SD 2.x and SDXL's second text
encoder, OpenCLIP ViT-H/bigG, use the same one). Its source is ``bpe_simple_vocab_16e6.txt.gz``, which the
``open_clip_torch`` PyPI package ships. Fetch the wheel without installing it, then run this script::

    pip download open_clip_torch --no-deps -d /tmp/oc
    python studio/resources/diffusion_configs/make_clip_tokenizer.py /tmp/oc/open_clip_torch-*.whl

(a path to the ``.txt.gz`` itself works too). It derives the vocabulary exactly as OpenAI's ``clip`` code
does: the 256 byte symbols, the same with ``</w>``, the 48 894 merges joined, then ``<|startoftext|>`` and
``<|endoftext|>`` (49 408 tokens), and writes it in Hugging Face's format, byte for byte the
``vocab.json`` and ``merges.txt`` of ``openai/clip-vit-large-patch14``, with a ``tokenizer_config.json`` and
``special_tokens_map.json`` holding that repo's special tokens (pad ``<|endoftext|>``; the engine sets pad
``!`` for OpenCLIP text encoders).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import zipfile
from pathlib import Path

from studio.engines.clip_bpe import bytes_to_unicode

# sha256 of OpenAI CLIP's bpe_simple_vocab_16e6.txt.gz (the same file in openai/CLIP and open_clip).
BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
BPE_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"
MERGE_COUNT = 49152 - 256 - 2  # CLIP keeps the first 48 894 merges
VOCAB_SIZE = 49408
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
DEFAULT_OUT = Path(__file__).resolve().parent / "clip_tokenizer"


def read_bpe(source: Path) -> bytes:
    """The gzipped BPE file's bytes, from the file itself or from an open_clip_torch wheel."""
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as wheel:
            return wheel.read(BPE_MEMBER)
    return source.read_bytes()


def build(gz_bytes: bytes) -> tuple[dict[str, int], list[str]]:
    """The token → id vocabulary and the merges (``"a b"`` lines) of CLIP's tokenizer."""
    lines = gzip.decompress(gz_bytes).decode("utf-8").split("\n")
    merges = lines[1 : MERGE_COUNT + 1]  # line 0 is the "#version" header
    byte_symbols = list(bytes_to_unicode().values())
    tokens = byte_symbols + [symbol + "</w>" for symbol in byte_symbols]
    for merge in merges:
        left, right = merge.split()
        tokens.append(left + right)
    tokens += [BOS, EOS]
    vocab = {token: index for index, token in enumerate(tokens)}
    if len(merges) != MERGE_COUNT or len(vocab) != VOCAB_SIZE:
        raise ValueError(f"unexpected BPE file: {len(merges)} merges, {len(vocab)} distinct tokens")
    return vocab, merges


def write(out: Path, vocab: dict[str, int], merges: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # The layout of the Hugging Face files: one-line JSON, unescaped; merges after a "#version" line.
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8", newline="\n")
    text = "#version: 0.2\n" + "\n".join(merges) + "\n"
    (out / "merges.txt").write_text(text, encoding="utf-8", newline="\n")
    special = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": 77,
        "do_lower_case": True,
        **special,
        "errors": "replace",
        "add_prefix_space": False,
    }
    for name, data in (("tokenizer_config.json", config), ("special_tokens_map.json", special)):
        (out / name).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="open_clip_torch wheel or bpe_simple_vocab_16e6.txt.gz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder ({DEFAULT_OUT.name}/)")
    args = parser.parse_args(argv)
    gz_bytes = read_bpe(args.source)
    digest = hashlib.sha256(gz_bytes).hexdigest()
    if digest != BPE_SHA256:
        print(f"error: {args.source}: BPE file sha256 {digest} is not CLIP's {BPE_SHA256}", file=sys.stderr)
        return 1
    vocab, merges = build(gz_bytes)
    write(args.out, vocab, merges)
    print(f"wrote {args.out}: {len(vocab)} tokens, {len(merges)} merges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
