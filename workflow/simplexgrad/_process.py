"""How a ``simplexgrad`` command runs as a process: SIGTERM (what a scheduler sends) and SIGINT stop it
through an exception, so that partial outputs are removed on the way out, and the start-up noise of
TensorFlow's C++ runtime is filtered from its log."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading

__all__ = ["NATIVE_NOISE", "Stopped", "stop_on_signals", "filtered_native_logs"]

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


def _raise_stopped(signum, frame):  # a signal handler's signature
    raise Stopped(signum)


def stop_on_signals() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_stopped)


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
