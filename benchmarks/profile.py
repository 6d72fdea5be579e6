"""Where the provider process's time goes, from the pyinstrument sessions benchmarks.probe saves.

Each sample is charged to one bucket by its stack, innermost first:
- libvirt:  inside libvirt-python (the daemon's work and the RPC to it: the floor);
- ours:     inside pulumi_libvirt_storage_provider, not in libvirt (our overhead);
- imports:  loading modules (ours and the libraries they import), once per process;
- pulumi:   the pulumi.dynamic server, its (de)serialisation, dill, grpc, everything else.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

OURS = "pulumi_libvirt_storage_provider"


def _is_ours(path: str | None) -> bool:
    return path is not None and f"/{OURS}/" in path


def _is_libvirt(path: str | None) -> bool:
    return path is not None and (path.endswith("/libvirt.py") or "libvirtmod" in path)


@dataclass
class Breakdown:
    total: float = 0.0
    buckets: collections.Counter[str] = field(default_factory=collections.Counter)
    # our functions, by time spent in them or below them outside libvirt ("own" overhead)
    ours_inclusive: collections.Counter[str] = field(default_factory=collections.Counter)
    libvirt_calls: collections.Counter[str] = field(default_factory=collections.Counter)
    # (gRPC method, bucket) -> seconds
    by_method: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)

    def lines(self, top: int = 12) -> list[str]:
        if self.total <= 0:
            return ["(no samples)"]
        out = [f"profiled provider time {self.total:.2f} s: " + ", ".join(
            f"{k} {v:.2f} s ({v / self.total:.0%})" for k, v in self.buckets.most_common())]
        methods = sorted({m for m, _ in self.by_method})
        for m in methods:
            parts = ", ".join(f"{b} {self.by_method[(m, b)]:.3f}" for b in ("libvirt", "ours", "imports",
                                                                                     "pulumi/grpc/other")
                              if self.by_method[(m, b)])
            out.append(f"  {m:8s} {parts}")
        out.append("  our code, by function (time outside libvirt, self and callees):")
        for name, seconds in self.ours_inclusive.most_common(top):
            out.append(f"    {seconds:7.3f} s  {seconds / self.total:5.1%}  {name}")
        if self.libvirt_calls:
            out.append("  libvirt calls (the floor's share):")
            for name, seconds in self.libvirt_calls.most_common(6):
                out.append(f"    {seconds:7.3f} s  {seconds / self.total:5.1%}  {name}")
        return out


def analyse(session_path: str) -> Breakdown:
    from pyinstrument.session import Session

    session = Session.load(session_path)
    root = session.root_frame(trim_stem=False)
    result = Breakdown()
    if root is None:
        return result

    def walk(frame: Any, ours_stack: tuple[str, ...], in_libvirt: str | None, method: str,
             importing: bool = False) -> None:
        path = frame.file_path
        importing = importing or frame.function == "<module>"
        if frame.class_name == "DynamicResourceProviderServicer" and frame.function[:1].isupper():
            method = frame.function
        name = f"{(frame.file_path_short or '').split('/')[-1]}:{frame.function}"
        if in_libvirt is None and _is_libvirt(path):
            in_libvirt = frame.function
        if in_libvirt is None and _is_ours(path):
            ours_stack = ours_stack + (name,) if name not in ours_stack else ours_stack
        self_time = frame.total_self_time
        if self_time:
            result.total += self_time
            bucket = ("imports" if importing else "libvirt" if in_libvirt is not None else "ours" if ours_stack
                      else "pulumi/grpc/other")
            result.by_method[(method, bucket)] += self_time
            if importing:
                result.buckets["imports"] += self_time
            elif in_libvirt is not None:
                result.buckets["libvirt"] += self_time
                result.libvirt_calls[in_libvirt] += self_time
            elif ours_stack:
                result.buckets["ours"] += self_time
                for fn in ours_stack:
                    result.ours_inclusive[fn] += self_time
            else:
                result.buckets["pulumi/grpc/other"] += self_time
        for child in frame.children:
            if not child.is_synthetic:  # their time is in total_self_time already
                walk(child, ours_stack, in_libvirt, method, importing)

    walk(root, (), None, "-")
    return result


def render_text(session_path: str, out_path: str) -> None:
    """The full pyinstrument call tree, for reading beside the summary."""
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    text = ConsoleRenderer(unicode=False, color=False, show_all=False, short_mode=False).render(
        Session.load(session_path))
    with open(out_path, "w") as f:
        f.write(text)
