"""Where the CPU goes in a load burst: sums the collapsed stacks py-spy wrote for each
web and worker process (``bench/load_burst.py --profile DIR``) and prints, per process,
the functions holding the most samples — inclusive (the function and what it called) and
self — as CPU-ms per application.

    .venv/bin/python bench/load_burst.py --apps 300 --intake-workers 1 --profile /tmp/prof
    .venv/bin/python bench/profile_burst.py /tmp/prof/w1 --apps 300

py-spy samples at ``--rate`` per second (load_burst uses 50: one sample is 20 ms of a
thread on a core); idle threads are not sampled.
"""
from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# Leaf frames where a thread waits rather than computes (py-spy's idle detection misses
# them on a loaded machine): the database's answer, a lock, the broker's socket, the
# pool's pipe. Their samples are wall time, not CPU, and are left out of the sums.
WAITS = ("psycopg/connection.py:Connection.wait", "threading.py:Condition.wait",
         "threading.py:Event.wait", "kombu/utils/eventio.py:_epoll.poll",
         "redis/_parsers/socket.py:SocketBuffer._read_from_socket",
         "billiard/connection.py:Connection._recv", "selectors.py:EpollSelector.select",
         "socketserver.py:BaseServer.serve_forever", "socket.py:socket.accept",
         "socket.py:SocketIO.readinto", "threading.py:Thread._wait_for_tstate_lock",
         "time.sleep", "queue.py:Queue.get", "ssl.py:SSLSocket.read",
         "concurrent/futures/thread.py:_worker")

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def short(frame: str) -> str:
    """``store_upload (services/intake/uploads.py:301)`` → ``intake/uploads.py:store_upload``."""
    m = FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for cut in ("/site-packages/", "/wt-burst/", "/main/", "/lib/python3.11/"):
        if cut in path:
            path = path.split(cut, 1)[1]
            break
    return f"{path}:{m['func']}"


def summarise(path: Path, top: int = 25) -> tuple[int, Counter, Counter]:
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [short(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames or frames[-1] in WAITS or frames[-1].endswith(":sleep"):
            continue
        total += n
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    return total, inclusive, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir")
    parser.add_argument("--apps", type=int, required=True, help="applications in the run")
    parser.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="only functions whose name has this")
    args = parser.parse_args()
    ms = 1000 / args.rate / args.apps
    for path in sorted(Path(args.dir).glob("*.txt")):
        total, inclusive, own = summarise(path)
        print(f"\n== {path.stem}: {total * ms:.1f} CPU-ms per application sampled")
        print("   inclusive:")
        for f, n in [(f, n) for f, n in inclusive.most_common() if args.match in f][:args.top]:
            print(f"   {n * ms:8.1f}  {f}")
        print("   self:")
        for f, n in own.most_common(args.top // 2):
            print(f"   {n * ms:8.1f}  {f}")


if __name__ == "__main__":
    main()
