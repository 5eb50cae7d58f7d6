"""`python -m modem.emulator start --modems 2 --dir var/sim` and the other `hoso sim` commands."""

import sys

from modem.emulator.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
