"""What the judge remembers of a worker's modules, to spare round trips.

Why: a property test reaches ``student.conv.conv2d`` in each of its hundred
examples, and a course's suites reach about 200 module attributes per
submission.  Looking each up once per test, and reaching an attribute that
was a function or class when first seen by its path (resolved by the worker
when used), saves those requests without ever trusting a stale value:
anything the student could rebind is looked up again after a ``setattr``.
"""

from __future__ import annotations

from typing import Any

from .protocol import Ref

Key = tuple[int, tuple[str, ...]]  # (the module's ref id, the attribute path)


class Lookups:
    """The modules imported in one worker and the attributes looked up in them."""

    def __init__(self) -> None:
        self.modules: dict[str, Ref] = {}
        # Attributes looked up during this test, as the proxies handed out.
        self.this_test: dict[Key, Any] = {}
        # Attributes that were objects (functions, classes, modules) when
        # first looked up in this worker, by the type they had.
        self.types: dict[Key, str] = {}

    def new_worker(self) -> None:
        """A new worker process: nothing known of the old one holds."""
        self.modules, self.this_test, self.types = {}, {}, {}

    def new_test(self) -> None:
        self.this_test = {}

    def attribute_set(self, on_module: bool) -> None:
        """Student state changed: a module's attribute may now be another object, or a plain value."""
        self.this_test.clear()
        if on_module:
            self.types.clear()

    def known(self, key: Key) -> tuple[Any | None, str | None]:
        """The proxy handed out for ``key`` in this test, else the type it had when first seen."""
        return self.this_test.get(key), self.types.get(key)

    def remember(self, key: Key, proxy: Any, type_name: str | None) -> None:
        self.this_test[key] = proxy
        if type_name is not None:
            self.types[key] = type_name
