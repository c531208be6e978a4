"""How a ``simplexgrad`` command runs as a process: SIGTERM (what a scheduler sends) and SIGINT stop it
through an exception, so that partial outputs are removed on the way out, and the start-up noise of
TensorFlow's C++ runtime is filtered from its log.

A stop must always stop, yet an exception raised by a signal handler lands wherever the interpreter
happens to be, and Python ignores (prints and drops) an exception raised inside a garbage-collector
callback (JAX installs one), a ``__del__`` or a weakref callback. So the handler first records the
signal; then, unless the code runs a region that stops only at safe points (:func:`stops_at_safe_points`:
the training loops, which call :func:`check_stop` between batches or epochs), it raises :class:`Stopped`.
A raise that Python drops reaches :func:`sys.unraisablehook`, which asks for the handler to run again
at the interpreter's next check; and every safe point, the end of a command and the command line's error
handling see the recorded signal even if a library swallowed the exception outright.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator

__all__ = [
    "NATIVE_NOISE",
    "Stopped",
    "stop_on_signals",
    "defer_early_stops",
    "stop_requested",
    "check_stop",
    "stops_at_safe_points",
    "filtered_native_logs",
]

NATIVE_NOISE = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|cudart_stub|cuda_platform.*cuInit|cpu_feature_guard|"
    r"^To enable the following instructions|computation_placer|cuda_(?:dnn|fft|blas)\.cc.*factory|"
    r"NodeDef mentions attribute use_unbounded_threadpool"
)


class Stopped(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT, so that ``atomic_output`` removes partial files."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _StopState:
    """What the handler knows: the first stop signal received, how deep the code is in regions that
    stop only at safe points, whether a raised :class:`Stopped` is on its way out, and how often a
    dropped one was raised again."""

    received: int | None = None
    deferred: int = 0
    in_flight: bool = False
    retries: int = 0


_state = _StopState()
_RETRIES = 1000  # raises dropped by Python in a row before only the safe points are left to stop
_previous_unraisablehook = sys.unraisablehook


def _on_stop_signal(signum: int, frame) -> None:  # a signal handler's signature
    if _state.received is None:
        _state.received = signum
    if _state.deferred or _state.in_flight:  # a safe point raises; a Stopped already on its way suffices
        return
    _state.in_flight = True
    raise Stopped(_state.received)


def _on_unraisable(unraisable) -> None:
    """A :class:`Stopped` that Python dropped (raised in a GC callback, ``__del__``, weakref callback):
    have the handler run again at the interpreter's next check, which is in ordinary code."""
    if not isinstance(unraisable.exc_value, Stopped):
        _previous_unraisablehook(unraisable)
        return
    _state.in_flight = False
    if _state.retries < _RETRIES:
        _state.retries += 1
        # From another thread: called in the main thread, interrupt_main runs the handler at once,
        # still inside the hook, where Python would drop the exception again.
        _thread.start_new_thread(_thread.interrupt_main, (unraisable.exc_value.signum,))


def stop_on_signals() -> None:
    """Install the SIGTERM and SIGINT handlers (again, if a library replaced them) in the main thread."""
    global _previous_unraisablehook
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _on_stop_signal)
    if sys.unraisablehook is not _on_unraisable:
        _previous_unraisablehook = sys.unraisablehook
        sys.unraisablehook = _on_unraisable


def defer_early_stops() -> None:
    """Record SIGTERM and SIGINT, raising nothing, until :func:`stop_on_signals` installs the handlers:
    the command line calls it first thing, so that a Ctrl-C during its imports stops the command at its
    first safe point (one line, status 130) instead of printing a ``KeyboardInterrupt`` traceback."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _record_stop_signal)


def _record_stop_signal(signum: int, frame) -> None:  # a signal handler's signature
    if _state.received is None:
        _state.received = signum


def stop_requested() -> int | None:
    """The stop signal received so far (SIGTERM or SIGINT), or None."""
    return _state.received


def check_stop() -> None:
    """A safe point: raise :class:`Stopped` if a stop signal has been received.

    Costs one attribute read, so loops may call it once per batch; a no-op unless
    :func:`stop_on_signals` installed the handlers (library use).
    """
    if _state.received is not None:
        _state.in_flight = True
        raise Stopped(_state.received)


@contextlib.contextmanager
def stops_at_safe_points() -> Iterator[None]:
    """A region whose code stops only where it calls :func:`check_stop` (and where the region ends):
    inside, the signal handler records the signal and raises nothing."""
    _state.deferred += 1
    try:
        yield
    finally:
        _state.deferred -= 1
    check_stop()


@contextlib.contextmanager
def filtered_native_logs():
    """Pass everything written to file descriptor 2 through a line filter that drops the noise of
    TensorFlow's C++ runtime on machines without a GPU (absl, oneDNN, CUDA stubs, cuInit, graph
    attribute warnings); other lines, Python's logging included, stream through unchanged."""
    original = os.dup(2)
    forwarded = os.dup(original)  # the thread's own copy: `original` may be closed before it starts
    reader, writer = os.pipe()
    os.dup2(writer, 2)
    os.close(writer)

    def forward():
        with os.fdopen(reader, "rb") as lines, os.fdopen(forwarded, "wb", buffering=0) as out:
            for line in lines:
                if not NATIVE_NOISE.search(line.decode(errors="replace")):
                    out.write(line)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last writer: the thread sees the end and stops
        os.close(original)
        thread.join(timeout=5)
