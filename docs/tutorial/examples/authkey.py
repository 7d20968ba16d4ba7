"""Step 2: authkey, the shared secret of a process tree."""

import multiprocessing
import threading
from multiprocessing.connection import Client, Listener


def send_my_key(queue):
    # bytes(): the key itself refuses to be pickled, so that it is never
    # sent anywhere by accident.
    queue.put(bytes(multiprocessing.current_process().authkey))


if __name__ == "__main__":
    key = multiprocessing.current_process().authkey
    print(f"the main process's authkey: {len(key)} random bytes")
    queue = multiprocessing.Queue()
    p = multiprocessing.Process(target=send_my_key, args=(queue,))
    p.start()
    print(f"the child's is the same: {queue.get() == key}")
    p.join()

    # What it is for: a Listener (and a Manager, which uses one) only
    # talks to clients that prove they know the key, without sending it.
    messages = []
    with Listener(family="AF_UNIX", authkey=b"the right key") as listener:

        def serve():
            try:
                listener.accept()
            except multiprocessing.AuthenticationError as exc:
                messages.append(f"listener: AuthenticationError: {exc}")

        server = threading.Thread(target=serve)
        server.start()
        try:
            Client(listener.address, authkey=b"a wrong key")
        except multiprocessing.AuthenticationError as exc:
            messages.append(f"client: AuthenticationError: {exc}")
        server.join()
    print("\n".join(sorted(messages)))
