"""Step 9: four threads that wait, as for a download, then four that compute."""

import threading
import time


def wait_for_io():
    time.sleep(0.5)  # stands in for a network or disk read: it releases the GIL


def compute():
    total = 0
    for i in range(5_000_000):  # pure Python work: it holds the GIL
        total += i


def time_four(target):
    start = time.monotonic()
    threads = [threading.Thread(target=target) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - start


if __name__ == "__main__":
    start = time.monotonic()
    compute()
    alone = time.monotonic() - start
    print(f"one thread waiting:   0.50 s; four threads: {time_four(wait_for_io):.2f} s")
    print(f"one thread computing: {alone:.2f} s; four threads: {time_four(compute):.2f} s")
