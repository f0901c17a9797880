"""The compatibility helper that rewritten modules define (or import) exactly once.

``HELPER_SOURCE`` is inserted verbatim; it must run unchanged on CPython 3.9-3.13, so it uses no
syntax newer than 3.9 and only the standard library.
"""

from __future__ import annotations

HELPER_NAME = "run_coroutine_sync"
HELPER_IMPORTS = ("asyncio", "contextvars", "threading")

HELPER_SOURCE = '''\
def run_coroutine_sync(coro, loop=None, *, worker_timeout=300.0, _running=set()):
    """Run *coro* to completion from synchronous code and return its result.

    Written by ssot-codemod in place of ``loop.run_until_complete(coro)``:

    - no event loop runs in this thread: exactly the old call, on *loop* (left open and
      current), or ``asyncio.run(coro)`` when no loop is given;
    - *loop* runs in another thread: the coroutine is submitted to it thread-safely;
    - a loop runs in this thread (pytest-asyncio, an async fixture): the coroutine runs on a
      fresh loop in a worker thread while this thread waits, at most *worker_timeout* seconds.
      Objects bound to that worker loop cannot be used from the caller's loop; where async
      code calls setUp(), ``await self.asyncSetUp()`` there is the real fix.

    A re-entrant call for the same object and hook (``setUp`` called again from inside
    ``asyncSetUp``) returns None instead of running the hook a second time.
    """
    frame = getattr(coro, "cr_frame", None)
    key = None
    if frame is not None and frame.f_code.co_argcount:
        owner = frame.f_locals.get(frame.f_code.co_varnames[0])
        key = (id(owner), frame.f_code.co_name)
        if key in _running:
            coro.close()
            return None
        _running.add(key)
    try:
        try:
            asyncio.get_running_loop()
            loop_running_here = True
        except RuntimeError:
            loop_running_here = False
        # The old path runs outside the except block, so its errors carry no extra context.
        if not loop_running_here:
            if loop is None:
                return asyncio.run(coro)
            if loop.is_running():
                return asyncio.run_coroutine_threadsafe(coro, loop).result()
            return loop.run_until_complete(coro)

        outcome = {}

        def work():
            worker_loop = asyncio.new_event_loop()
            asyncio.set_event_loop(worker_loop)
            try:
                task = worker_loop.create_task(coro)
                outcome["task"] = task
                outcome["loop"] = worker_loop
                outcome["result"] = worker_loop.run_until_complete(task)
            except BaseException as exc:  # re-raised in the caller with its own traceback
                outcome["error"] = exc
            finally:
                try:
                    pending = [t for t in asyncio.all_tasks(worker_loop) if not t.done()]
                    for leftover in pending:
                        leftover.cancel()
                    if pending:
                        worker_loop.run_until_complete(
                            asyncio.gather(*pending, return_exceptions=True)
                        )
                    worker_loop.run_until_complete(worker_loop.shutdown_asyncgens())
                finally:
                    asyncio.set_event_loop(None)
                    worker_loop.close()

        worker = threading.Thread(
            target=contextvars.copy_context().run,
            args=(work,),
            name="run_coroutine_sync",
            daemon=True,
        )
        worker.start()
        worker.join(worker_timeout)
        if worker.is_alive():
            if "task" in outcome:
                outcome["loop"].call_soon_threadsafe(outcome["task"].cancel)
                worker.join(5.0)
            raise TimeoutError(
                "run_coroutine_sync: %r did not finish within %s s on its worker loop; it "
                "probably waits for the event loop this thread is blocking - await it from "
                "async code instead" % (coro, worker_timeout)
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("result")
    finally:
        if key is not None:
            _running.discard(key)
'''
