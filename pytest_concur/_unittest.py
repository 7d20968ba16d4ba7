"""``unittest.TestCase`` methods as concurrency tests: one item per mode, the method in workers.

pytest never parametrizes unittest methods, so under ``--concur-all`` (or with a ``concur``
marker on the method, class or module) each is replaced by one item per selected mode, named
``test_x[thread]`` and ``test_x[process]`` like every other concurrency test. The item runs the
test case as pytest does (``setUp``, the method, ``tearDown``, once, in the parent); only the
method's body runs in the workers. In thread mode the workers share the one instance, so state
``setUp`` left on ``self`` and changed by the method is shared, which is what makes an unsafe
``setUp`` show; in process mode each worker has its copy.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Iterable
from typing import Any

import pytest
from _pytest.unittest import TestCaseFunction, UnitTestCase

__all__ = ["ConcurTestCaseFunction", "is_unittest_item", "per_mode_items"]


def is_unittest_item(item: pytest.Item) -> bool:
    """Whether *item* is a ``unittest.TestCase`` method that pytest collected."""
    return isinstance(item, TestCaseFunction) and not isinstance(item, ConcurTestCaseFunction)


class ConcurTestCaseFunction(TestCaseFunction):
    """A unittest method's item in one mode (``test_x[thread]``)."""

    def __init__(self, *args: Any, method_name: str, kind: str, **kwargs: Any) -> None:
        # Set before pytest's __init__, which looks the method up.
        self.method_name = method_name
        self.kind = kind
        super().__init__(*args, **kwargs)

    def _getinstance(self) -> Any:
        assert isinstance(self.parent, UnitTestCase)
        return self.parent.obj(self.method_name)

    def _getobj(self) -> Any:
        return getattr(self.instance, self.method_name)

    def runtest(self) -> None:
        """Run the test case, with the method's body in this mode's workers."""
        from pytest_concur._run import RunPlainly, run_body

        testcase = self.instance
        assert testcase is not None
        method = getattr(testcase, self.method_name)
        function = getattr(type(testcase), self.method_name)
        kind = self.kind
        item = self

        if inspect.iscoroutinefunction(function):
            item.stash[_plain_key()] = "an async test: unittest's event loop runs it"
            testcase(result=self)
            return

        @functools.wraps(method)
        def in_workers() -> None:
            __tracebackhide__ = True
            try:
                run_body(item, function, {}, kind, instance=_instance_for(testcase, item))
            except RunPlainly:
                method()

        setattr(testcase, self.method_name, in_workers)
        try:
            testcase(result=self)
        finally:
            delattr(testcase, self.method_name)


def _plain_key() -> pytest.StashKey[str]:
    from pytest_concur._run import PLAIN_KEY

    return PLAIN_KEY


def _instance_for(testcase: Any, item: ConcurTestCaseFunction) -> Any:
    """The instance workers call the method on: the one itself, or a copy that can be sent.

    Threads share it, and a forked child inherits it. A spawn or fork-server worker gets a
    pickled copy without unittest's bookkeeping (``_outcome`` refers to the running test
    result, which is pytest's item and cannot be sent).
    """
    from pytest_concur._collect import settings_for

    if item.kind == "thread" or settings_for(item).start_method == "fork":
        return testcase
    clone = copy.copy(testcase)
    clone._outcome = None
    # The wrapper runtest() put on the instance refers to this item.
    clone.__dict__.pop(item.method_name, None)
    return clone


def per_mode_items(item: pytest.Item, modes: Iterable[str]) -> list[pytest.Item]:
    """Return one :class:`ConcurTestCaseFunction` per mode in place of unittest *item*."""
    from pytest_concur._collect import KIND_KEY

    assert isinstance(item, TestCaseFunction)
    made: list[pytest.Item] = []
    for kind in modes:
        clone = ConcurTestCaseFunction.from_parent(
            item.parent, name=f"{item.name}[{kind}]", method_name=item.name, kind=kind
        )
        # Markers added by a conftest before us (pytest_collection_modifyitems) stay on.
        for mark in item.own_markers:
            if mark not in clone.own_markers:
                clone.add_marker(pytest.MarkDecorator(mark, _ispytest=True))
        clone.stash[KIND_KEY] = kind
        made.append(clone)
    return made
