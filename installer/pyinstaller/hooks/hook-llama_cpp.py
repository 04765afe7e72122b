"""PyInstaller hook for llama-cpp-python.

llama_cpp loads its native libraries with ctypes from ``<package>/lib`` (``llama_cpp._ggml``,
``llama_cpp.llama_cpp``, ``llama_cpp.mtmd_cpp``), which the import analysis cannot see. Collect every
shared library there into the same relative folder, so the ``$ORIGIN`` RUNPATH of libllama/libggml and
the package's own path lookup keep working in the bundle.
"""

from pathlib import Path

from PyInstaller.compat import is_darwin, is_win
from PyInstaller.utils.hooks import collect_submodules, copy_metadata, get_package_paths, logger

_, _pkg_dir = get_package_paths("llama_cpp")
_lib_dir = Path(_pkg_dir) / "lib"

if is_win:
    _patterns = ("*.dll",)
elif is_darwin:
    _patterns = ("*.dylib", "*.so")
else:
    _patterns = ("*.so", "*.so.*")

binaries = []
for _pattern in _patterns:
    for _lib in sorted(_lib_dir.glob(_pattern)):
        if _lib.is_file():
            binaries.append((str(_lib), "llama_cpp/lib"))
if not binaries:
    logger.warning("hook-llama_cpp: no shared libraries found in %s; the bundle cannot run models", _lib_dir)

# The OpenAI-compatible server needs fastapi/uvicorn, which Studio does not use.
hiddenimports = [name for name in collect_submodules("llama_cpp") if not name.startswith("llama_cpp.server")]
excludedimports = ["llama_cpp.server"]
datas = copy_metadata("llama_cpp_python")

# Keep the libraries as real files inside llama_cpp/lib rather than symlinks into the top-level folder
# (the same precaution the contrib hook takes for torch/lib). No-op before PyInstaller 6.11.
bindepend_symlink_suppression = ["**/llama_cpp/lib/*"]
