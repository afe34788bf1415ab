"""A request's view of the upstreams: each read made once, independent reads sent together.

A plan (a verification, a diagnosis) reads lazily: a check asks for a fact when it needs it.
Asked one after another, every read would wait for the one before it, though most need no
answer from each other. The view finds out which reads can go out together by running the
plan's parts (its checks, one by one) against what it knows so far:

- a read whose answer the view has is answered from memory: each read is made once per
  view (a diagnosis's pairs share their subscription and namespace reads);
- a read it has not made yet is noted and answered with `NOT_READ`, a placeholder that
  raises `Missing` as soon as anything looks at it. So a part goes on past a read whose
  answer it does not use yet and stops at the first answer it needs: the reads noted in
  one round are exactly those whose arguments (and whose being needed at all) follow from
  answers already read;
- the round's reads go out together through `Ports.gather` (one by one by default; the
  service's pool sends them at once), and the parts run again, until a round notes none.

Each round is one dependent level: a read is in the level after the last answer it needs.
The plan is then made as before, against the view, and every read it makes is answered
from memory. Its result cannot depend on the rounds: a read made in a round is the very
call the plan would make (same port, method and arguments), and the plan reads again, in
its own order, whatever the rounds did not read. A failed read is kept and raised where
the plan makes that read, as it would have been.

A workflow may name reads ahead (`Workflow.reads_ahead`, `verify_ahead`): ones a part
reaches only after an answer it does not need for them (program order, not data). Naming
them sends them a level earlier; one that turns out not to be needed is a wasted call,
never a different result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .facts import Ports

# The reads of each port (workflows/ports.py); any other call is a change, passed through.
READS = {
    "portal": frozenset({"subscription", "customer", "customers_by_email",
                         "customer_subscriptions", "namespace_subscriptions"}),
    "gitlab": frozenset({"namespace", "access_level", "user", "user_by_username",
                         "users_by_email"}),
    "tickets": frozenset({"requester"}),
}
# A plan has at most four levels, a diagnosis of 3 x 3 pairs as many; more rounds than this
# would mean a part whose reads never settle (a bug): the plan then reads the rest itself.
MAX_ROUNDS = 12

Read = tuple[str, str, tuple]  # (port, method, positional arguments)
Answer = tuple[bool, Any]  # (True, value) or (False, the exception the read raised)
Parts = Callable[[Ports], Iterable[Callable[[], object]]]


class Missing(Exception):
    """A part looked at an answer the view has not read yet (only while finding reads)."""


class _NotRead:
    """What a read not made yet answers while the view finds reads: any use raises Missing."""

    __slots__ = ()

    def _missing(self, *args: Any, **kwargs: Any) -> Any:
        raise Missing

    __getattr__ = __getitem__ = __call__ = __iter__ = __len__ = __contains__ = _missing
    __bool__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = _missing
    __str__ = __format__ = __int__ = __index__ = __float__ = _missing

    def __repr__(self) -> str:
        return "<not read yet>"


NOT_READ: Any = _NotRead()


@dataclass(frozen=True)
class ViewPorts(Ports):
    """Ports that read through a view; `View.of` finds the view again."""

    view: Any = None


class View:
    def __init__(self, source: Ports) -> None:
        self._source = source
        self._answers: dict[Read, Answer] = {}
        self.rounds = 0  # levels of reads sent together so far
        self.ports = self._ports(lambda port, method, args: self._read((port, method, args)))

    @classmethod
    def of(cls, ports: Ports) -> "View":
        """The view `ports` read through, or a new one over them."""
        return ports.view if isinstance(ports, ViewPorts) else cls(ports)

    def fresh(self) -> "View":
        """A new view of the same upstreams, knowing nothing (after a change, say)."""
        return View(self._source)

    def warm(self, parts: Parts) -> None:
        """Read, level by level, what `parts(ports)` will read (module docstring)."""
        for _ in range(MAX_ROUNDS):
            wanted: dict[Read, None] = {}
            peek = self._ports(lambda port, method, args: self._peek((port, method, args), wanted))
            for part in _each(parts, peek):
                try:
                    part()
                except Exception:  # noqa: S110 - Missing, or what the plan itself will raise
                    pass
            if not wanted:
                return
            self._send(list(wanted))

    # -- reading --------------------------------------------------------------------------

    def _read(self, read: Read) -> Any:
        if read not in self._answers:
            self._remember(read, self._ask(read))
        ok, value = self._answers[read]
        if ok:
            return value
        raise value

    def _peek(self, read: Read, wanted: dict[Read, None]) -> Any:
        if read in self._answers:  # hashing raises Missing for an argument not read yet
            return self._read(read)
        wanted[read] = None
        return NOT_READ

    def _ask(self, read: Read) -> Answer:
        port, method, args = read
        try:
            return True, getattr(getattr(self._source, port), method)(*args)
        except Exception as error:  # kept, and raised where the plan makes this read
            return False, error

    def _send(self, reads: list[Read]) -> None:
        answers: dict[Read, Answer] = {}

        def asking(read: Read) -> Callable[[], None]:
            return lambda: answers.__setitem__(read, self._ask(read))

        self._source.gather([asking(read) for read in reads])
        for read in reads:  # in this thread, in order: the view itself is not shared
            self._remember(read, answers[read])
        self.rounds += 1

    def _remember(self, read: Read, answer: Answer) -> None:
        self._answers[read] = answer
        ok, value = answer
        if ok and read[:2] == ("gitlab", "namespace") and value is not None:
            # GitLab answers the same namespace by path and by id: one read serves both.
            self._answers.setdefault(("gitlab", "namespace", (value.id,)), answer)

    def _changed(self) -> None:
        """A change went through: nothing read before it is known any more."""
        self._answers.clear()

    def _ports(self, read: Callable[[str, str, tuple], Any]) -> ViewPorts:
        source = self._source
        return ViewPorts(portal=_Port(self, "portal", source.portal, read),
                         gitlab=_Port(self, "gitlab", source.gitlab, read),
                         tickets=_Port(self, "tickets", source.tickets, read),
                         clock=source.clock, gather=source.gather, view=self)


class _Port:
    """One port seen through the view: its reads answered by `read`, its changes passed on."""

    def __init__(self, view: View, name: str, port: Any, read: Callable[[str, str, tuple], Any]) -> None:
        self._view, self._name, self._port, self._read = view, name, port, read

    def __getattr__(self, method: str) -> Any:
        if method in READS[self._name]:
            return lambda *args: self._read(self._name, method, args)
        attribute = getattr(self._port, method)
        if not callable(attribute):
            return attribute

        def change(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            finally:
                self._view._changed()

        return change


def _each(parts: Parts, ports: Ports) -> list[Callable[[], object]]:
    try:
        return list(parts(ports))
    except Exception:  # a part list that needs an answer: the plan reads it itself
        return []
