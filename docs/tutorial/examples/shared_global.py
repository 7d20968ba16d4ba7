"""Step 3: five workers each add 1 to a module-level global."""

import multiprocessing
import threading

counter = 0


def bump(results):
    global counter
    counter += 1
    results.put(counter)


def run(worker_class):
    global counter
    counter = 0
    results = multiprocessing.Queue()
    workers = [worker_class(target=bump, args=(results,)) for _ in range(5)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seen = sorted(results.get() for _ in workers)
    name = worker_class.__name__
    print(f"{name}: the workers saw {seen}; main's counter is {counter}")


if __name__ == "__main__":
    run(threading.Thread)
    run(multiprocessing.Process)
