"""Illustrate a passage: the image prompt request, and saving the picked image next to the document.

The image goes into ``<document folder>/images/`` under a free name made from its prompt, written by the
same code as the canvas's Export PNG (:func:`~studio.canvas.png_metadata.export_png_with_provenance`: the
generation settings and the IPTC ``trainedAlgorithmicMedia`` mark), atomically. The document gets a
Markdown image ``![alt](images/name.png)`` with a relative path, after the passage.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from studio.canvas.document import CanvasDocument
from studio.canvas.errors import CanvasError
from studio.canvas.generation import add_generated_layer, plan_generation
from studio.canvas.png_metadata import export_png_with_provenance
from studio.writing.actions import WritingAction
from studio.writing.rewrite import BASE, RewritePlan, build_rewrite, clean_output

IMAGES_FOLDER = "images"
IMAGE_PROMPT_TEMPLATE = "image-prompt"
IMAGE_PROMPT_ACTION = WritingAction("image-prompt", "Illustrate Passage", IMAGE_PROMPT_TEMPLATE)
IMAGE_PROMPT_TOKENS = 96
MAX_ALT_CHARS = 125
MAX_STEM_CHARS = 48
PASSAGE_CHARS = 2000
"""How much of a long passage the model reads (its start) to write the prompt."""
UNTITLED_MESSAGE = (
    "Save the document first: the picture goes into an “images” folder next to it, "
    "and the document refers to it by a relative path."
)


class IllustrationError(ValueError):
    """The picture could not be saved or placed; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class SavedIllustration:
    """Where the picture went and the Markdown that shows it."""

    path: Path
    markdown_path: str
    alt: str

    @property
    def markdown(self) -> str:
        return markdown_image(self.alt, self.markdown_path)


def image_prompt_request(
    passage: str, *, model_kind: str = BASE, seed: int | None = None, job_id: str | None = None
) -> RewritePlan:
    """The LLM request that writes an image prompt for ``passage`` (one line; few-shot for base models,
    the chat template for instruct models). Raises ``ValueError`` for an empty passage and
    :class:`~studio.writing.prompts.PromptError` for a broken template."""
    text = passage.strip()[:PASSAGE_CHARS]
    plan = build_rewrite(IMAGE_PROMPT_ACTION, text, model_kind=model_kind, seed=seed, job_id=job_id)
    request = plan.request
    changes: dict[str, Any] = {"max_tokens": IMAGE_PROMPT_TOKENS}
    if hasattr(request, "stop"):
        changes["stop"] = tuple(dict.fromkeys((*request.stop, "\n")))
    return dataclasses.replace(plan, request=dataclasses.replace(request, **changes))


def clean_image_prompt(raw: str, model_kind: str = BASE) -> str:
    """The image prompt in the model's output, on one line."""
    return " ".join(clean_output(raw, model_kind).split())


def alt_text(prompt: str, passage: str = "") -> str:
    """Alt text for the picture: the prompt (or else the passage) on one line, shortened, with the characters
    that would end or break a Markdown image's text escaped."""
    text = " ".join(prompt.split()) or " ".join(passage.split()) or "Illustration"
    if len(text) > MAX_ALT_CHARS:
        text = text[: MAX_ALT_CHARS - 1].rstrip(" ,;:.") + "…"
    return re.sub(r"([\\\[\]`*_<>])", r"\\\1", text)


def markdown_image(alt: str, path: str) -> str:
    """``![alt](path)``; ``alt`` is already escaped (:func:`alt_text`)."""
    return f"![{alt}]({path})"


def file_stem(prompt: str) -> str:
    """A file name (without suffix) from the prompt's first words: lower-case ASCII letters, digits and
    ``-``; ``illustration`` when nothing is left."""
    words = re.sub(r"[^0-9a-z]+", "-", prompt.casefold()).strip("-")
    if len(words) > MAX_STEM_CHARS:
        words = words[:MAX_STEM_CHARS].rsplit("-", 1)[0] or words[:MAX_STEM_CHARS]
    return words.strip("-") or "illustration"


def images_folder(document_path: str | os.PathLike[str] | None) -> Path:
    """``<document folder>/images``; :class:`IllustrationError` for an untitled document."""
    if document_path is None or not str(document_path):
        raise IllustrationError(UNTITLED_MESSAGE)
    return Path(document_path).parent / IMAGES_FOLDER


def free_image_path(document_path: str | os.PathLike[str] | None, stem: str) -> Path:
    """A PNG path in the document's images folder that no file has yet: ``stem.png``, ``stem-2.png``..."""
    folder = images_folder(document_path)
    candidate = folder / f"{stem}.png"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}.png"
        number += 1
    return candidate


def markdown_path(document_path: str | os.PathLike[str], image_path: str | os.PathLike[str]) -> str:
    """The image's path relative to the document's folder, with ``/`` separators and URL escapes for
    characters a Markdown link destination cannot hold (spaces, parentheses...)."""
    relative = os.path.relpath(Path(image_path), Path(document_path).parent)
    return quote(Path(relative).as_posix(), safe="/-._~")


def save_illustration(
    document_path: str | os.PathLike[str] | None,
    rgb: np.ndarray,
    params: Mapping[str, Any],
    *,
    passage: str = "",
) -> SavedIllustration:
    """Save the generated ``rgb`` (``H×W×3`` ``uint8``) with its engine ``params`` (prompt, seed, model...)
    into the document's images folder, marked as AI-generated exactly like a canvas export, and return where
    it went and its Markdown. Raises :class:`IllustrationError` (nothing written) for an untitled document,
    a bad image or a failed write."""
    prompt = str(params.get("prompt") or "")
    path = free_image_path(document_path, file_stem(prompt))
    assert document_path is not None  # free_image_path refused an untitled document
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise IllustrationError("The generated picture is not an RGB image")
    height, width = rgb.shape[:2]
    try:
        canvas = CanvasDocument(width, height)
        plan = plan_generation(canvas, None)  # text-to-image over the whole canvas
        add_generated_layer(canvas, plan, rgb, params)
        path.parent.mkdir(parents=True, exist_ok=True)
        export_png_with_provenance(canvas, path)
    except CanvasError as exc:
        raise IllustrationError(f"The picture could not be saved: {exc}") from None
    except OSError as exc:
        raise IllustrationError(f"Could not save “{path}”: {exc.strerror or exc}") from None
    return SavedIllustration(path, markdown_path(document_path, path), alt_text(prompt, passage))


def insertion(text: str, end: int, markdown: str) -> tuple[int, str]:
    """Where to put ``markdown`` for a passage that ends at ``end`` of ``text`` (Python indices), and the
    text to insert there: after the passage's last line, as a paragraph of its own."""
    end = max(0, min(end, len(text)))
    position = len(text[:end].rstrip())
    line_end = text.find("\n", position)
    if text[position : line_end if line_end >= 0 else len(text)].strip():
        position = line_end if line_end >= 0 else len(text)  # the passage ends mid-line: after that line
    after = text[position:]
    inserted = ("\n\n" if position > 0 else "") + markdown
    if after.startswith("\n\n") or not after.strip():
        return position, inserted
    return position, inserted + ("\n" if after.startswith("\n") else "\n\n")
