"""The engine: run a callable in N workers, threads or processes, and report each one's outcome.

It checks and plans a run (``_run_plan``), starts and supervises the workers (``_threads`` for
threads; ``_processes``, ``_supervisor`` and the child's bootstrap ``_child`` for processes),
sends payloads and exceptions between processes (``_payload``, ``_remote_errors``, and the
messages of ``_messages``) and says what became of each worker (``_outcome``). Its public names
are those of :mod:`concur_lab`, which documents them and is where they are imported from.

Its boundary: it knows nothing of pytest, the command line or the demos. What another package
needs done in a worker process besides running the target (pytest's assertion rewriting, for
one) it provides through the engine's child hooks (``_hooks``), found by the entry point group
``concur_lab.child_hooks``. The engine uses :mod:`concur_lab.counter` only for the barrier
between iterations, and imports it then.

Importing this package imports none of its modules: every ``spawn`` and ``forkserver`` worker
imports it on the way to its bootstrap, and pays only for what that needs.
"""

__all__: list[str] = []
