"""CLIP's byte-level BPE alphabet, shared by the shipped-tokenizer generator and the tiny test tokenizer."""

from __future__ import annotations


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's byte → printable unicode table (the alphabet its BPE works on), in CLIP's order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))
