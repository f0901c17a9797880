"""The compatibility helper that rewritten modules define (or import) exactly once.

``HELPER_SOURCE`` is inserted verbatim into other people's code, so it is written to pass their
linters unconfigured: lines of at most 79 characters, no mutable default argument, f-strings,
black's blank lines. It must run unchanged on CPython 3.9-3.13: standard library only, no syntax
newer than 3.9.

The re-entry guard needs state shared by every thread (the nested call may come from the worker
thread), hence the module-level set rather than a mutable default argument.
"""

from __future__ import annotations

HELPER_NAME = "run_coroutine_sync"
HELPER_IMPORTS = ("asyncio", "contextvars", "threading")

HELPER_SOURCE = '''\
_RUNNING_HOOKS = set()  # (id(instance), hook name) of calls in progress


def run_coroutine_sync(coro, loop=None, *, worker_timeout=300.0):
    """Run *coro* to completion from synchronous code; return its result.

    Written by ssot-codemod in place of ``loop.run_until_complete(coro)``.
    With no event loop running in this thread, it is exactly that call (or
    ``asyncio.run(coro)`` when no *loop* is given); a *loop* running in
    another thread gets the coroutine thread-safely. When a loop runs in
    this thread, the coroutine runs on a fresh loop in a worker thread for
    at most *worker_timeout* seconds. Objects bound to that loop cannot be
    used from the caller's loop: where async code calls setUp(),
    ``await self.asyncSetUp()`` there is the real fix. A nested call for
    the same instance and hook (setUp called again from asyncSetUp) returns
    None instead of running the hook twice.
    """
    frame = getattr(coro, "cr_frame", None)
    key = None
    if frame is not None and frame.f_code.co_argcount:
        owner = frame.f_locals.get(frame.f_code.co_varnames[0])
        key = (id(owner), frame.f_code.co_name)
        if key in _RUNNING_HOOKS:
            coro.close()
            return None
        _RUNNING_HOOKS.add(key)
    try:
        try:
            asyncio.get_running_loop()
            running_here = True
        except RuntimeError:
            running_here = False
        # Outside the except block, so the old path's errors get no context.
        if not running_here:
            if loop is None:
                return asyncio.run(coro)
            if loop.is_running():
                future = asyncio.run_coroutine_threadsafe(coro, loop)
                return future.result()
            return loop.run_until_complete(coro)

        outcome = {}

        async def main():
            outcome["task"] = asyncio.current_task()
            return await coro

        def work():
            try:
                outcome["result"] = asyncio.run(main())
            except BaseException as exc:  # re-raised in the calling thread
                outcome["error"] = exc

        worker = threading.Thread(
            target=contextvars.copy_context().run,
            args=(work,),
            name="run_coroutine_sync",
            daemon=True,
        )
        worker.start()
        worker.join(worker_timeout)
        if worker.is_alive():
            task = outcome.get("task")
            if task is not None:
                task.get_loop().call_soon_threadsafe(task.cancel)
                worker.join(5.0)
            raise TimeoutError(
                f"{coro!r} did not finish within {worker_timeout} s on its"
                " worker loop; it probably waits for the event loop this"
                " thread is blocking: await it from async code instead"
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]
    finally:
        if key is not None:
            _RUNNING_HOOKS.discard(key)
'''
