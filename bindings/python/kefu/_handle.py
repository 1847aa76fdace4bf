"""Ownership of native pointers.

A :class:`Handle` owns one C pointer and the function that frees it.  A
child handle (a scratch of a model, facts of a rule set) keeps a strong
reference to its parent handle, so the parent's memory is freed only after
every child is gone, whatever order Python collects them in.  Handles hold
no reference back to the Python wrappers, so no reference cycle runs
through a native pointer.  ``close()`` on a parent closes its live children
first (they are tracked weakly), then frees the parent; closing twice does
nothing.
"""
from __future__ import annotations

import threading
import weakref

from . import errors


class Handle:
    __slots__ = ("ptr", "_free", "parents", "_children", "_lock", "what",
                 "__weakref__")

    def __init__(self, ptr, free, parent: "Handle" = None, what="object"):
        self.ptr = ptr
        self._free = free
        self.parents = []
        self._children = weakref.WeakSet()
        self._lock = threading.Lock()
        self.what = what
        if parent is not None:
            self.attach(parent)

    def attach(self, parent: "Handle") -> None:
        """Makes this handle depend on `parent` too (it is closed first)."""
        with parent._lock:
            parent._children.add(self)
        self.parents.append(parent)

    def get(self):
        """The live pointer; StateError when closed."""
        p = self.ptr
        if not p:
            raise errors.StateError(errors.E_STATE,
                                    "%s is closed" % self.what)
        return p

    def detach(self, parent: "Handle") -> None:
        """Undoes attach(parent)."""
        with parent._lock:
            parent._children.discard(self)
        if parent in self.parents:
            self.parents.remove(parent)

    @property
    def closed(self) -> bool:
        return not self.ptr

    def close(self):
        with self._lock:
            children = list(self._children)
        for c in children:
            c.close()
        with self._lock:
            p, self.ptr = self.ptr, None
        if p:
            self._free(p)
        self.parents = []

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: modules may be gone
            pass


class Owner:
    """Mixin for Python wrappers that own one Handle in ``self._h``."""

    _h: Handle = None

    def close(self) -> None:
        """Frees the native object (and objects made from it).  Idempotent."""
        h = self._h
        if h is not None:
            h.close()

    @property
    def closed(self) -> bool:
        return self._h is None or self._h.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
