"""Step 4: run() works in the caller; start() works in a new worker."""

import multiprocessing
import os
import threading


def where():
    process = multiprocessing.current_process().name
    thread = threading.current_thread().name
    print(f"    ran in {process} (pid {os.getpid()}), thread {thread}")


if __name__ == "__main__":
    print(f"main: pid {os.getpid()}")
    print("Thread(...).run():")
    # An ordinary call: no new thread.
    threading.Thread(target=where, name="worker-thread").run()
    print("Thread(...).start():")
    t = threading.Thread(target=where, name="worker-thread")
    t.start()
    t.join()

    print("Process(...).run():")
    # No new process either.
    multiprocessing.Process(target=where, name="worker-process").run()
    print("Process(...).start():")
    p = multiprocessing.Process(target=where, name="worker-process")
    p.start()
    p.join()
