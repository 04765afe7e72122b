"""A tiny random-weight llama-architecture GGUF with a chat template, for tests of the instruct path.

llama.cpp loads it for real and llama-cpp-python renders its ``tokenizer.chat_template`` in its Jinja
sandbox, so a test on it exercises the whole chat path in seconds. Its text is noise (random weights).
The template rejects a ``system`` message with :data:`SYSTEM_REJECTED` (as Gemma's templates do), which
lets a test prove that the template really ran.
"""

from __future__ import annotations

from pathlib import Path

SYSTEM_REJECTED = "This template has no system role"

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ raise_exception('" + SYSTEM_REJECTED + "') }}{% endif %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

# a SentencePiece-style vocabulary: three specials, the 256 byte tokens, then printable ASCII pieces
_SPECIALS = ("<unk>", "<s>", "</s>")
_PIECES = tuple("▁" + chr(c) for c in range(ord("a"), ord("z") + 1)) + tuple(chr(c) for c in range(33, 127))


def write_chat_gguf(
    path: str | Path,
    *,
    name: str = "tiny-chat",
    n_embd: int = 64,
    n_layers: int = 2,
    n_heads: int = 4,
    n_ff: int = 128,
    context_length: int = 2048,
    seed: int = 0,
    chat_template: str = CHAT_TEMPLATE,
) -> Path:
    """Write the model to ``path`` (a few hundred KB) and return the path."""
    import gguf
    import numpy as np

    path = Path(path)
    rng = np.random.default_rng(seed)
    tokens = [*_SPECIALS, *(f"<0x{b:02X}>" for b in range(256)), *_PIECES]
    token_types = (
        [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
        + [gguf.TokenType.BYTE] * 256
        + [gguf.TokenType.NORMAL] * len(_PIECES)
    )
    scores = [0.0] * (3 + 256) + [-float(i) for i in range(len(_PIECES))]
    n_vocab = len(tokens)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_heads)
    writer.add_head_count_kv(n_heads)
    writer.add_rope_dimension_count(n_embd // n_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(token_types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(chat_template)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    writer.add_tensor("token_embd.weight", weight(n_vocab, n_embd))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", weight(n_vocab, n_embd))
    for layer in range(n_layers):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for part in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{prefix}.{part}.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"{prefix}.ffn_gate.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"{prefix}.ffn_up.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"{prefix}.ffn_down.weight", weight(n_embd, n_ff))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
