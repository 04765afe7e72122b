"""Start Studio from a source checkout: ``python main.py``."""

import sys

from studio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
