"""Step 8: how much CPU two threads, then two processes, get while computing."""

import multiprocessing
import queue
import threading
import time

SECONDS = 0.5


def compute(report, clock_name):
    clock = getattr(time, clock_name)  # this worker's own CPU time
    cpu_before = clock()
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        sum(i * i for i in range(100))  # pure Python work
    report.put(clock() - cpu_before)


def cpu_per_second(count, report, make_worker):
    """Run count workers at once; return the CPU seconds they got per second, together."""
    start = time.monotonic()
    workers = [make_worker() for _ in range(count)]
    for worker in workers:
        worker.start()
    cpu = sum(report.get() for _ in workers)  # read before join()
    for worker in workers:
        worker.join()
    return cpu / (time.monotonic() - start)


if __name__ == "__main__":
    threads_report = queue.Queue()
    processes_report = multiprocessing.Queue()

    def thread():
        return threading.Thread(target=compute, args=(threads_report, "thread_time"))

    def process():
        return multiprocessing.Process(
            target=compute, args=(processes_report, "process_time")
        )

    alone = cpu_per_second(1, threads_report, thread)
    print(f"1 worker alone: {alone:.2f} s of CPU per second (a free core gives 1.00)")
    if alone < 0.8:
        print("  other programs are using the CPU: expect less than on an idle machine")
    print(f"2 threads:      {cpu_per_second(2, threads_report, thread):.2f} s of CPU per second")
    print(f"2 processes:    {cpu_per_second(2, processes_report, process):.2f} s of CPU per second")
