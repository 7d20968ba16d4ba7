"""Step 1: the same function in a thread and in a process."""

import multiprocessing
import threading


def greet(who, punctuation="!"):
    print(f"hello from {who}{punctuation}")


if __name__ == "__main__":
    t = threading.Thread(target=greet, args=("a thread",))
    p = multiprocessing.Process(
        target=greet, args=("a process",), kwargs={"punctuation": "."}
    )
    t.start()
    t.join()
    p.start()
    p.join()
    print(f"both finished; the process's exit code is {p.exitcode}")
