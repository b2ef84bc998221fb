"""Crash-test child: appends to and acks a small file ring buffer until the parent SIGKILLs it.

    python ring_crash_child.py BUFFER_PATH LOG_PATH SEED

It imports, prints "ready", waits for a line on stdin (so the parent can start the next child while it
checks the last one), then opens the buffer (kills also land during recovery) and records every step that
returned in LOG_PATH, fsync'd, as the parent's ground truth:
    O <acked> <next_seq>        the buffer opened
    A <seq> <floor>             append(seq) returned; floor = oldest seq then held
    K <acked>                   ack() returned; acked = buf.acked
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ring_frames import make_frame

from litetel.ring_buffer import RingBuffer

CAPACITY = 4096


def main(path, log_path, seed):
    rng = random.Random(seed)

    def note(line):
        os.write(log, line.encode())
        os.fsync(log)

    print("ready", flush=True)
    if sys.stdin.readline() != "go\n":  # the parent is gone: never touch the buffer
        return
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    buf = RingBuffer(CAPACITY, path=path)
    note("O %d %d\n" % (buf.acked, buf.next_seq))
    while True:
        seq = buf.append(make_frame(buf.next_seq))
        note("A %d %d\n" % (seq, buf.read(max_frames=1)[0][0]))
        if rng.random() < 0.3:
            buf.ack(rng.randrange(buf.acked, buf.next_seq))
            note("K %d\n" % buf.acked)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
