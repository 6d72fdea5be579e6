"""The pulumi.dynamic front end: a thin translation of ResourceProvider calls into resources/.

The provider classes are pickled *by reference* into every resource's state
(`pulumi_libvirt_storage_provider.dynamic.<module>.<Class>`): their module paths and class
names are part of the state format and must never change. Nothing unpicklable may live on
an instance; connections are in ops.connection's per-process cache.

What is particular to this front end:
- the host declares no preview support, so in a preview the engine takes the checked inputs as
  the outputs of an update or create: `check` returns the outputs it can predict among the inputs
  (resources/*.predict), so that dependents see known values instead of unknowns;
- errors are raised as exceptions (the host turns them into a gRPC error; ours carry the message
  alone, see plain_errors.py);
- the stack config `libvirt:uri` (and `libvirt-storage:allowUnsafeUris`) arrives through `configure`;
- a resource whose URI makes libvirt fork (qemu+ssh://) is served by a worker process without gRPC's
  fork handlers (worker.py): every logic call goes through `_logic`, which sends it there.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from pulumi.dynamic import (CheckFailure, CheckResult, ConfigureRequest, CreateResult, DiffResult, ReadResult,
                            ResourceProvider, UpdateResult)

from .. import lifeline
from ..ops import uri_safety
from . import plain_errors, worker
from ..resources.base import NAME_PREFIX_KEY, Context, ResourceLogic, whole_numbers
from ..spec.fields import is_unknown

__all__ = ["LibvirtProvider", "NAME_PREFIX_KEY"]

if sys.argv and sys.argv[0].replace(os.sep, "/").endswith("pulumi/dynamic/__main__.py"):
    lifeline.watch()  # in pulumi.dynamic's provider host (not in the program): exit with the engine
    plain_errors.install()  # our errors reach the user as their message, without a traceback


class LibvirtProvider(ResourceProvider):
    logic: ResourceLogic
    # The provider holds no secret, so its serialised form need not be encrypted in state.
    serialize_as_secret_always = False

    def __init__(self) -> None:
        super().__init__()
        self._config_uri: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        """The host calls this with the whole stack config (namespaced keys) before any other call."""
        self._config_uri = req.config.get("libvirt:uri") or None
        # Not a flag ("yes"): not allowed; the refusal says to set it to true.
        self._allow_unsafe_uris = uri_safety.config_flag(req.config.get(uri_safety.ALLOW_CONFIG_KEY)) is True

    def context(self) -> Context:
        # (getattr: a provider unpickled from a state but never configured, as in tests, allows nothing)
        return Context(default_uri=getattr(self, "_config_uri", None),
                       allow_unsafe_uris=getattr(self, "_allow_unsafe_uris", False))

    def _logic(self, method: str, uris: tuple[object, ...], *args: Any) -> Any:
        """self.logic.<method>(*args), in the worker process when any of `uris` (the resource's, old
        and new) or the provider's makes libvirt fork."""
        ctx: Context = args[-1]
        if worker.forks(*uris, ctx.default_uri):
            cls = type(self)
            return worker.worker().call(f"{cls.__module__}:{cls.__qualname__}.logic.{method}", *args)
        return getattr(self.logic, method)(*args)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        ctx = self.context()
        uris = (olds.get("uri"), news.get("uri"))
        checked = self._logic("check", uris, olds, news, ctx)
        if checked.failures:
            return CheckResult(news, [CheckFailure(e.prop, e.reason) for e in checked.failures])
        inputs = checked.inputs
        # Outputs known before libvirt is asked ride along with the inputs: a preview shows them.
        inputs.update({k: v for k, v in self._logic("predict_all", uris, inputs, olds, ctx).items()
                       if inputs.get(k) is None and not is_unknown(v)})
        return CheckResult(inputs, [])

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        d = self._logic("diff", (olds.get("uri"), news.get("uri")), id_, olds, news, self.context())
        return DiffResult(changes=d.changes, replaces=d.replaces, stables=[],
                          delete_before_replace=d.delete_before_replace)

    def create(self, props: dict[str, Any]) -> CreateResult:
        id_, outs = self._logic("create", (props.get("uri"),), props, self.context())
        return CreateResult(id_, outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        result = self._logic("read", (props.get("uri"),), id_, whole_numbers(props), self.context())
        return ReadResult(id_=result.id, outs=result.outputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._logic("update", (olds.get("uri"), news.get("uri")), id_, whole_numbers(olds), news,
                                        self.context()))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._logic("delete", (props.get("uri"),), id_, whole_numbers(props), self.context())
