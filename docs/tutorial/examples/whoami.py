"""Step 2: who am I? Run: python whoami.py [fork|forkserver|spawn]."""

import multiprocessing
import os
import sys
import threading


def report(label):
    parent = multiprocessing.parent_process()
    parent_pid = parent.pid if parent is not None else None
    print(
        f"{label}: getpid() {os.getpid()}, getppid() {os.getppid()}, "
        f"parent_process().pid {parent_pid}, "
        f"thread ident {threading.get_ident()}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        multiprocessing.set_start_method(sys.argv[1])
    method = multiprocessing.get_start_method()
    print(f"main: getpid() {os.getpid()}, start method {method}")
    workers = []
    for i in range(2):
        workers.append(
            threading.Thread(target=report, args=(f"thread {i}",))
        )
    for i in range(2):
        workers.append(
            multiprocessing.Process(target=report, args=(f"process {i}",))
        )
    for worker in workers:  # one at a time, so that their lines do not mix
        worker.start()
        worker.join()
