"""``python -m studio`` and the ``studio`` launcher."""

import sys


def main() -> int:
    from studio.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
