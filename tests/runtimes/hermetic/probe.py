"""A program to run under the hermetic tracer: prints, as JSON, what it saw of the host.

`probe.py DIR [EXIT]` stats and lists DIR, reads the clocks (here and on
another thread) and entropy, then exits with EXIT (default 0).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time


def main() -> int:
    directory = sys.argv[1]
    other: dict[str, float] = {}
    thread = threading.Thread(target=lambda: other.update(time=time.time()))
    thread.start()
    thread.join()
    first = os.path.join(directory, sorted(os.listdir(directory))[0])
    stat = os.stat(first)
    seen = {
        "time": time.time(),
        "monotonic": time.monotonic(),
        "gmtime_year": time.gmtime().tm_year,
        "other_thread_time": other["time"],
        "entropy": os.urandom(16).hex(),
        "mtime": stat.st_mtime,
        "atime": stat.st_atime,
        "ctime": stat.st_ctime,
        "inodes": {
            name: os.stat(os.path.join(directory, name)).st_ino for name in os.listdir(directory)
        },
        "dir_size": os.stat(directory).st_size,
        "listing": os.listdir(directory),
    }
    print(json.dumps(seen))
    return int(sys.argv[2]) if len(sys.argv) > 2 else 0
