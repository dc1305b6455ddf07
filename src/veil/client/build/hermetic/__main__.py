"""`python -m veil.client.build.hermetic --seed HEX --epoch N MODULE:FUNCTION -- ARGS...`.

Run from the build's staging directory: paths under it are named relative to it.
"""

from __future__ import annotations

import argparse
import os
import sys

from veil.client.build.hermetic.pins import Pins
from veil.client.build.hermetic.supervisor import supervise


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m veil.client.build.hermetic")
    parser.add_argument("--seed", required=True, help="hex seed for the build's entropy")
    parser.add_argument("--epoch", required=True, type=int, help="the build's clock and file time")
    parser.add_argument("target", help="the program: module:function, reading sys.argv")
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="the program's arguments")
    args = parser.parse_args()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    pins = Pins(seed=bytes.fromhex(args.seed), epoch=args.epoch, root=os.path.realpath(os.getcwd()))
    return supervise(args.target, argv, pins)


if __name__ == "__main__":
    sys.exit(main())
