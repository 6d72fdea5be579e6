"""qemu-img's LUKS key-derivation benchmark fails now and then on tick-accounted CPUs ("Unable to get
accurate CPU usage": 9 creates in 30 on this machine, measured with qemu-img alone); ops retries
that one error, and only that one."""

from __future__ import annotations

from typing import Any

import libvirt
import pytest

from pulumi_libvirt_storage_provider.ops import volumes


class _Error(libvirt.libvirtError):
    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.message = message

    def get_error_message(self) -> str:
        return self.message


class _Pool:
    def __init__(self, failures: list[str]) -> None:
        self.failures = list(failures)
        self.calls = 0

    def createXML(self, xml: str, flags: int) -> Any:  # noqa: N802 - libvirt's name
        self.calls += 1
        if self.failures:
            raise _Error(self.failures.pop(0))
        return "volume"


BENCH = f"internal error: Child process (/usr/bin/qemu-img create ...) unexpected exit status 1: qemu-img: x: " \
        f"{volumes.LUKS_BENCHMARK_ERROR}"


def test_the_benchmark_failure_is_tried_again_until_the_create_succeeds() -> None:
    pool = _Pool([BENCH] * (volumes.LUKS_BENCHMARK_TRIES - 1))
    assert volumes._create_xml(pool, "<volume/>", None, 0) == "volume"  # type: ignore[arg-type]
    assert pool.calls == volumes.LUKS_BENCHMARK_TRIES


def test_it_gives_up_after_the_last_try_with_the_error() -> None:
    pool = _Pool([BENCH] * volumes.LUKS_BENCHMARK_TRIES)
    with pytest.raises(libvirt.libvirtError, match="accurate CPU usage"):
        volumes._create_xml(pool, "<volume/>", None, 0)  # type: ignore[arg-type]
    assert pool.calls == volumes.LUKS_BENCHMARK_TRIES


def test_any_other_error_is_not_retried() -> None:
    pool = _Pool(["operation failed: storage volume 'x' already exists"])
    with pytest.raises(libvirt.libvirtError, match="already exists"):
        volumes._create_xml(pool, "<volume/>", None, 0)  # type: ignore[arg-type]
    assert pool.calls == 1
