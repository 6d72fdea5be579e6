"""One clear message instead of a traceback, in pulumi.dynamic's provider host.

The host turns every exception of a provider call into a gRPC error whose text is
`traceback.format_exc()`: the user reads 20 lines of Python with the real message on the last one.
Our own errors (a libvirt failure explained, bad input, a lost connection) are messages written for
the user; for them the host's `traceback` is given a `format_exc` that returns the message alone.
Anything else (a bug of ours) keeps its whole traceback. Installed only in the host process, and
only where the host is the one this was written against (it looks up `traceback` in its module at
each error); otherwise nothing changes and errors keep their tracebacks."""

from __future__ import annotations

import sys
import types
from typing import Any

from ..ops.errors import LibvirtOpError
from ..spec.fields import Failures
from ..spec.units import SpecError

OURS = (LibvirtOpError, Failures, SpecError)


class _Traceback(types.ModuleType):
    def __init__(self, real: types.ModuleType) -> None:
        super().__init__(real.__name__)
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def format_exc(self, *args: Any, **kwargs: Any) -> str:
        error = sys.exc_info()[1]
        if isinstance(error, OURS):
            return str(error)
        return self._real.format_exc(*args, **kwargs)


def install() -> bool:
    """Whether the host's error text is now the message alone for our errors."""
    host = sys.modules.get("__main__")
    if getattr(getattr(host, "__spec__", None), "name", None) != "pulumi.dynamic.__main__" \
            or not callable(getattr(host, "_abort_with_traceback", None)):
        return False
    real = getattr(host, "traceback", None)
    if isinstance(real, _Traceback):
        return True
    if not isinstance(real, types.ModuleType) or not callable(getattr(real, "format_exc", None)):
        return False
    host.traceback = _Traceback(real)  # type: ignore[attr-defined]
    return True
