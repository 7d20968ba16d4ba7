"""Step 5: a Thread subclass that reads a global in run(), and the fix."""

import threading
import time


class Worker(threading.Thread):
    def run(self):
        time.sleep(0.1)  # any delay: by now the loop below has moved on
        self.seen = num  # the global num, read when the thread *runs*


class FixedWorker(threading.Thread):
    def __init__(self, num):
        super().__init__()
        self.num = num  # bound when the thread is *created*

    def run(self):
        time.sleep(0.1)
        self.seen = self.num


def start_and_join(workers):
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [worker.seen for worker in workers]


if __name__ == "__main__":
    workers = []
    for num in range(5):  # num is a module global here
        workers.append(Worker(name=f"worker-{num}"))
    print(f"the bug: {start_and_join(workers)}")
    fixed = [FixedWorker(num) for num in range(5)]
    print(f"the fix: {start_and_join(fixed)}")
