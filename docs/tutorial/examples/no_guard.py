"""Step 1: what the main guard is for. This script deliberately has none."""

import multiprocessing


def greet():
    print("hello from the child")


# spawn is the default on macOS and Windows: the child is a new interpreter
# that imports this file again, and so runs the next lines again too.
ctx = multiprocessing.get_context("spawn")
p = ctx.Process(target=greet)
p.start()
p.join()
print(f"the child's exit code: {p.exitcode}")
