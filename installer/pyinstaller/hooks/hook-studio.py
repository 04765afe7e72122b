"""PyInstaller hook for Studio itself.

Studio imports its engines, model registry and UI lazily (the CLI must start without Qt or torch), so
collect every submodule, the package data (``studio/resources``), and the distribution metadata when
Studio is installed, for ``importlib.metadata`` look-ups.
"""

import contextlib

from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

hiddenimports = collect_submodules("studio", on_error="warn once")
datas = collect_data_files("studio")
with contextlib.suppress(Exception):  # built from a source tree that was never pip-installed
    datas += copy_metadata("studio")
