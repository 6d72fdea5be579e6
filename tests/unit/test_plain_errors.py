"""pulumi.dynamic's host prints `traceback.format_exc()` for every failed call; in that host our
errors become their message alone, a bug of ours keeps its traceback, and nothing changes anywhere
else (the program's process, another host)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from pulumi_libvirt_storage_provider.dynamic import plain_errors


def test_outside_the_dynamic_host_nothing_is_installed() -> None:
    assert plain_errors.install() is False  # pytest's __main__ is not pulumi.dynamic's


def test_in_the_host_our_errors_are_their_message_and_bugs_keep_their_traceback() -> None:
    # A process whose __main__ is pulumi.dynamic's host module, as `python -m pulumi.dynamic` runs it.
    script = textwrap.dedent('''
        import importlib.util, sys
        # the host's own module, without its last line (which serves forever)
        spec = importlib.util.find_spec("pulumi.dynamic.__main__")
        source = open(spec.origin).read()
        assert source.rstrip().endswith("main()")
        module = importlib.util.module_from_spec(spec)
        exec(compile(source.rstrip()[:-len("main()")], spec.origin, "exec"), module.__dict__)
        sys.modules["__main__"] = module
        from pulumi_libvirt_storage_provider.dynamic import plain_errors
        from pulumi_libvirt_storage_provider.ops.errors import LibvirtOpError
        assert plain_errors.install() and plain_errors.install()
        aborted = []
        class Context:
            def abort(self, code, details):
                aborted.append(details)
        def ours(self, request, context):
            raise LibvirtOpError("pool 'x' is not active; start it")
        def bug(self, request, context):
            raise KeyError("oops")
        module._abort_with_traceback(ours)(None, None, Context())
        module._abort_with_traceback(bug)(None, None, Context())
        print(repr(aborted))
    ''')
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    ours, bug = eval(out)  # noqa: S307 - our own repr
    assert ours == "pool 'x' is not active; start it"
    assert bug.startswith("Traceback (most recent call last):") and "KeyError: 'oops'" in bug
