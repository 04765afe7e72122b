"""Entry point of the PyInstaller bundle: the same as the ``studio`` launcher."""

import multiprocessing
import sys

from studio.__main__ import main

if __name__ == "__main__":
    # torch/diffusers may start worker processes; in a frozen app they must re-enter here.
    multiprocessing.freeze_support()
    sys.exit(main())
