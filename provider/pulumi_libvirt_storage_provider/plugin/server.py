"""The provider plugin front end: Pulumi's resource-provider protocol (gRPC) translated into the
calls of resources/, the same core the dynamic front end uses.

What is particular to this front end (the rest is the core's):
- property names on the wire are the package schema's camelCase (spec/names.py converts);
- secrets arrive as secrets (acceptSecrets) and the inputs that were secret go back as secrets;
- previews are supported: Create and Update with `preview` return what the resource will look like,
  the outputs an update does not change kept known (resources/base.py preview_create/update);
- errors reach the user as one message with libvirt's error code, never a traceback;
- `pulumi import` calls Read with only an id: the object is looked up and described by the
  inputs that declare it (resources/*.import_);
- auto-names and uuids derive from the resource's URN (the dynamic SDK sends a seed instead);
- the engine's dependent-replacement probe (Diff of a resource whose dependency is being replaced,
  with the inputs that depend on it set to unknown) is recognised and answered with the real
  question "does anything else change?", so that a pool replaced over the same storage does not
  take its volumes with it (see `_is_probe`).
"""

from __future__ import annotations

import functools
import secrets
import sys
import traceback
from typing import Any, Callable

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from .. import __version__
from ..ops import uri_safety
from ..ops.errors import LibvirtOpError
from ..ops.uri_safety import ALLOW_PROPERTY
from ..package_schema import PACKAGE, package_schema_json
from ..resources import LOGIC, Change, Context, ResourceLogic
from ..resources.base import NAME_PREFIX_KEY, SEED_KEY
from ..spec.fields import Failures, contains_unknown, is_unknown
from ..spec.names import camel, from_wire, path_to_wire, to_wire
from ..spec.units import SpecError
from .wire import decode, encode

CHECKED_BY_KEY = "__checked_by"  # which provider process checked these inputs with unknowns (see _is_probe)
PROVIDER_URI_SOURCE = "the provider's uri (stack config libvirt-storage:uri, or an explicit Provider's uri)"
HOW_TO_ALLOW = (f"If you trust it, allow such URIs: `pulumi config set {uri_safety.ALLOW_CONFIG_KEY} true` for the "
                f"stack's default provider, or {ALLOW_PROPERTY}=true (allow_unsafe_uris in Python) on an explicit "
                "Provider (a change a reviewer sees).")


def _errors_without_traceback(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The message the user sees is the error's own: what failed, libvirt's code, what to do."""

    @functools.wraps(fn)
    def wrapper(self: "LibvirtStorageProvider", request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return fn(self, request, context)
        except LibvirtOpError as e:
            context.abort(grpc.StatusCode.UNKNOWN, str(e))
        except Failures as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(str(f) for f in e.failures))
        except SpecError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        except grpc.RpcError:
            raise
        except Exception as e:  # noqa: BLE001 - a bug of ours: say what, keep the trace for the logs
            traceback.print_exc(file=sys.stderr)
            context.abort(grpc.StatusCode.INTERNAL, f"internal error in the libvirt-storage provider: "
                                                    f"{type(e).__name__}: {e}")

    return wrapper


class LibvirtStorageProvider(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self) -> None:
        self.context = Context()
        self.token = secrets.token_hex(8)  # this process: stored in the inputs it checks

    # -- plumbing -------------------------------------------------------------------------------
    @staticmethod
    def _logic(urn: str, type_: str = "") -> ResourceLogic:
        token = type_ or urn.split("::")[-2]
        name = token.rsplit(":", 1)[-1]
        if not token.startswith(f"{PACKAGE}:") or name not in LOGIC:
            raise LibvirtOpError(f"unknown resource type {token!r}")
        return LOGIC[name]

    @staticmethod
    def _secret_keys(logic: ResourceLogic, given: set[str]) -> set[str]:
        return given | {camel(n) for n in logic.schema.secret_fields}

    def _out(self, logic: ResourceLogic, props: dict[str, Any], secret: set[str] = frozenset()) -> Any:  # type: ignore[assignment]
        return encode(to_wire(logic.schema, props), self._secret_keys(logic, set(secret)))

    # -- plugin ---------------------------------------------------------------------------------
    def GetPluginInfo(self, request: Any, context: grpc.ServicerContext) -> Any:
        return plugin_pb2.PluginInfo(version=__version__)

    def GetSchema(self, request: Any, context: grpc.ServicerContext) -> Any:
        return provider_pb2.GetSchemaResponse(schema=package_schema_json())

    def Cancel(self, request: Any, context: grpc.ServicerContext) -> Any:
        return empty_pb2.Empty()

    # -- provider configuration -----------------------------------------------------------------
    @_errors_without_traceback
    def CheckConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        """The provider's uri and allowUnsafeUris (from the stack config libvirt-storage:*, or an explicit
        Provider). A uri that would run a program or weaken the host check is refused here, before any
        resource of this provider is checked, unless allowed (see ops/uri_safety.py)."""
        news, _ = decode(request.news)
        uri, allow = news.get("uri"), news.get(ALLOW_PROPERTY)
        failures = []
        if uri is not None and not is_unknown(uri) and not isinstance(uri, str):
            failures.append(provider_pb2.CheckFailure(property="uri",
                                                      reason="must be a libvirt URI such as qemu:///system"))
        if not is_unknown(allow) and uri_safety.config_flag(allow) is None:
            failures.append(provider_pb2.CheckFailure(property=ALLOW_PROPERTY, reason=f"must be true or false, "
                                                      f"not {allow!r}"))
        elif isinstance(uri, str) and not is_unknown(allow) and not uri_safety.config_flag(allow):
            refused = uri_safety.refusal(uri, PROVIDER_URI_SOURCE, HOW_TO_ALLOW)
            if refused:
                failures.append(provider_pb2.CheckFailure(property="uri", reason=refused))
        return provider_pb2.CheckResponse(inputs=request.news, failures=failures)

    @_errors_without_traceback
    def DiffConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        olds, _ = decode(request.olds)
        news, _ = decode(request.news)
        # Resources record the host they live on (their `uri` output) and are diffed against it: a
        # provider pointed elsewhere replaces only what really moves to another host. A change of
        # allowUnsafeUris is a change too: the engine configures a provider whose Diff says "none" with
        # its *old* inputs, and a stack that stops allowing such URIs must stop at once.
        changed = olds.get("uri") != news.get("uri") or is_unknown(news.get(ALLOW_PROPERTY)) or \
            uri_safety.config_flag(olds.get(ALLOW_PROPERTY)) != uri_safety.config_flag(news.get(ALLOW_PROPERTY))
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_SOME if changed
                                         else provider_pb2.DiffResponse.DIFF_NONE)

    @_errors_without_traceback
    def Configure(self, request: Any, context: grpc.ServicerContext) -> Any:
        args, _ = decode(request.args)
        uri = args.get("uri", request.variables.get(f"{PACKAGE}:config:uri"))
        allow = args.get(ALLOW_PROPERTY, request.variables.get(f"{PACKAGE}:config:{ALLOW_PROPERTY}"))
        self.context = Context(
            # An unknown uri stays unknown: the resources of this provider then connect nowhere (their
            # previews predict nothing from a host, anything else fails saying why), never to the
            # local default. (Engine v3.274.1 does not configure a provider whose inputs hold unknowns.)
            default_uri=uri if isinstance(uri, str) or is_unknown(uri) else None,
            default_source=PROVIDER_URI_SOURCE,
            allow_unsafe_uris=not is_unknown(allow) and uri_safety.config_flag(allow) is True,
            how_to_allow=HOW_TO_ALLOW)
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True, acceptResources=False)

    # -- resources ------------------------------------------------------------------------------
    @_errors_without_traceback
    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:
        logic = self._logic(request.urn, request.type)
        olds, _ = decode(request.olds)
        news, secret = decode(request.news)
        raw = from_wire(logic.schema, news)
        raw[SEED_KEY] = request.urn  # stable across previews and runs: auto-names and uuids derive from it
        raw[NAME_PREFIX_KEY] = request.name or request.urn.split("::")[-1]
        checked = logic.check(from_wire(logic.schema, olds), raw, self.context)
        if checked.failures:
            return provider_pb2.CheckResponse(inputs=request.news, failures=[
                provider_pb2.CheckFailure(property=path_to_wire(logic.schema, f.prop), reason=f.reason)
                for f in checked.failures])
        inputs = dict(checked.inputs)
        if contains_unknown(inputs):
            # Marked as this process's, so that Diff tells them from a probe (see _is_probe). Inputs
            # without unknowns (every input the state stores) are left unmarked: the same program
            # then checks to the same inputs in every run, and the engine writes no checkpoint for
            # a resource that did not change (a changing mark made it rewrite the whole state once
            # per resource in every preview, refresh and up: O(N^2)).
            inputs[CHECKED_BY_KEY] = self.token
        return provider_pb2.CheckResponse(inputs=self._out(logic, inputs, secret))

    @_errors_without_traceback
    def Diff(self, request: Any, context: grpc.ServicerContext) -> Any:
        logic = self._logic(request.urn, request.type)
        olds, _ = decode(request.olds)
        news, _ = decode(request.news)
        old_inputs, _ = decode(request.old_inputs)
        if _is_probe(news, old_inputs):
            news = {k: (old_inputs.get(k) if is_unknown(v) else v) for k, v in news.items()}
        d = logic.diff(request.id, from_wire(logic.schema, olds), from_wire(logic.schema, news), self.context)
        detailed = {path_to_wire(logic.schema, p): provider_pb2.PropertyDiff(
            kind=provider_pb2.PropertyDiff.UPDATE_REPLACE if c is Change.REPLACE else provider_pb2.PropertyDiff.UPDATE,
            inputDiff=True) for p, c in d.detailed.items()}
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if d.changes else provider_pb2.DiffResponse.DIFF_NONE,
            replaces=[camel(r) for r in d.replaces], deleteBeforeReplace=d.delete_before_replace,
            detailedDiff=detailed, hasDetailedDiff=True)

    @_errors_without_traceback
    def Create(self, request: Any, context: grpc.ServicerContext) -> Any:
        logic = self._logic(request.urn, request.type)
        props, secret = decode(request.properties)
        inputs = from_wire(logic.schema, props)
        if request.preview:
            return provider_pb2.CreateResponse(properties=self._out(logic, logic.preview_create(
                logic.canonical(inputs), self.context), secret))
        id_, outputs = logic.create(inputs, self.context)
        return provider_pb2.CreateResponse(id=id_, properties=self._out(logic, outputs, secret))

    @_errors_without_traceback
    def Read(self, request: Any, context: grpc.ServicerContext) -> Any:
        logic = self._logic(request.urn, request.type)
        props, secret = decode(request.properties)
        inputs, _ = decode(request.inputs)
        if not props and not inputs:
            # `pulumi import` (or a `get`): only the id. The inputs returned declare the object as it is.
            found, args = logic.import_(request.id, self.context)
            if not found.id:
                return provider_pb2.ReadResponse(id="")
            return provider_pb2.ReadResponse(id=found.id, properties=self._out(logic, found.outputs),
                                             inputs=self._out(logic, args))
        found = logic.read(request.id, from_wire(logic.schema, props or inputs), self.context)
        if not found.id:
            return provider_pb2.ReadResponse(id="")
        return provider_pb2.ReadResponse(id=found.id, properties=self._out(logic, found.outputs, secret),
                                         inputs=request.inputs)

    @_errors_without_traceback
    def Update(self, request: Any, context: grpc.ServicerContext) -> Any:
        logic = self._logic(request.urn, request.type)
        olds, _ = decode(request.olds)
        news, secret = decode(request.news)
        old_outputs, new_inputs = from_wire(logic.schema, olds), from_wire(logic.schema, news)
        if request.preview:
            preview = logic.preview_update(request.id, old_outputs, logic.canonical(new_inputs), self.context)
            return provider_pb2.UpdateResponse(properties=self._out(logic, preview, secret))
        outputs = logic.update(request.id, old_outputs, new_inputs, self.context)
        return provider_pb2.UpdateResponse(properties=self._out(logic, outputs, secret))

    @_errors_without_traceback
    def Delete(self, request: Any, context: grpc.ServicerContext) -> Any:
        logic = self._logic(request.urn, request.type)
        props, _ = decode(request.properties)
        logic.delete(request.id, from_wire(logic.schema, props), self.context)
        return empty_pb2.Empty()


def _is_probe(news: dict[str, Any], old_inputs: dict[str, Any]) -> bool:
    """Whether this Diff is the engine's dependent-replacement probe: before replacing a resource
    with delete-before-replace, the engine asks each resource that depends on it whether it must be
    replaced too, sending its *stored* inputs with every input that depends on the replaced resource
    set to unknown. A normal Diff sends the inputs this process's Check just returned. Check marks
    the inputs it returns with unknowns in them with this process's token; the stored inputs hold
    no unknowns, so they carry no mark (or, stored by an older version, the mark of the process
    that checked them). A probe therefore sends the stored mark (or none), the same as old_inputs;
    a normal Diff with unknowns this process's mark, which no stored inputs carry. In a probe an
    unknown means "not known until the dependency is recreated", and the resource is diffed again
    once it is: it is no reason to replace it now."""
    return news.get(CHECKED_BY_KEY) == old_inputs.get(CHECKED_BY_KEY) and any(is_unknown(v) for v in news.values())
