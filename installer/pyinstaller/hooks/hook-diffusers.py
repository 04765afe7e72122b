"""PyInstaller hook for diffusers (and the parts of transformers its pipelines load by name).

diffusers is a lazy package: ``DiffusionPipeline.from_pretrained`` reads ``model_index.json`` and imports
the pipeline, model and scheduler classes by name, and ``diffusers.utils.import_utils`` checks optional
dependencies through their distribution metadata. Neither is visible to the import analysis, so:
- collect the diffusers submodules (without the Flax/ONNX ones Studio never runs on torch);
- collect the transformers model families diffusion pipelines use as text encoders and tokenizers
  (override with STUDIO_BUNDLE_TRANSFORMERS_MODELS="clip,t5,..." when Studio supports others);
- copy the metadata diffusers looks up, and keep .py sources next to the bytecode because torch's
  JIT/``inspect.getsource`` need them (as the contrib hooks for torch and transformers do).
"""

import contextlib
import os

from PyInstaller.utils.hooks import (
    can_import_module,
    collect_data_files,
    collect_submodules,
    copy_metadata,
    logger,
)

module_collection_mode = "pyz+py"


def _wanted(name: str) -> bool:
    lowered = name.lower()
    return not any(part in lowered for part in ("flax", "onnx", "diffusers.commands", "_test", "tests."))


hiddenimports = collect_submodules("diffusers", filter=_wanted, on_error="ignore")
datas = collect_data_files("diffusers", excludes=["**/*.md"])

_models = os.environ.get(
    "STUDIO_BUNDLE_TRANSFORMERS_MODELS", "clip,clip_vision,t5,siglip,xlm_roberta,bert,auto"
)
for _family in [m.strip() for m in _models.split(",") if m.strip()]:
    if _family == "auto":
        hiddenimports += collect_submodules("transformers.models.auto", on_error="ignore")
        continue
    _found = collect_submodules(f"transformers.models.{_family}", filter=_wanted, on_error="ignore")
    if not _found:
        logger.info("hook-diffusers: transformers has no model family %r; skipped", _family)
    hiddenimports += _found
# Core modules the model families import lazily (names differ between transformers 4 and 5).
hiddenimports += [
    name
    for name in (
        "transformers.tokenization_utils_base",
        "transformers.tokenization_utils_fast",
        "transformers.tokenization_utils_tokenizers",
        "transformers.modeling_utils",
    )
    if can_import_module(name)
]

for _dist in (
    "diffusers",
    "transformers",
    "torch",
    "safetensors",
    "huggingface_hub",
    "tokenizers",
    "numpy",
    "pillow",
    "regex",
    "requests",
    "filelock",
    "packaging",
    "accelerate",
    "sentencepiece",
    "protobuf",
    "peft",
):
    with contextlib.suppress(Exception):  # an optional dependency that is not installed
        datas += copy_metadata(_dist)
