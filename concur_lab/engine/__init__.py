"""The engine: run a callable in N workers, threads or processes, and report each one's outcome.

It plans a run (:mod:`._run_plan`), starts and supervises the workers (:mod:`._threads`, and
:mod:`._processes` with the child's bootstrap in :mod:`._child`), sends payloads and exceptions
across processes (:mod:`._payload`, :mod:`._remote_errors`) and describes what became of each
worker (:mod:`._outcome`). Its public names are re-exported by :mod:`concur_lab`, which is where
they are documented and imported from.

Its boundary: it knows nothing of pytest, the command line or the demos. Whatever another
package needs done in a worker process beyond running the target (pytest's assertion rewriting,
say) it provides through the engine's hooks (:mod:`._hooks`), which the engine finds by entry
point. The engine uses :mod:`concur_lab.counter` only for the
barrier between iterations, and imports it then.

Importing this package imports none of its modules: every spawn and forkserver child imports it
on the way to its bootstrap, and pays only for what that needs.
"""

__all__: list[str] = []
