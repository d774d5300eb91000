"""Exceptions shared by every layer. An error names the field, the value and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Problem:
    """One thing wrong with an input: where (dotted path), what value, why, what is allowed."""

    path: str
    message: str
    value: object = None
    allowed: str | None = None

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        return text


@dataclass
class SpecError(ValueError):
    """A study (or structure request) is invalid. Carries one ``Problem`` per issue found."""

    problems: list[Problem] = field(default_factory=list)
    source: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"invalid study {self.source}" if self.source else "invalid input"
        lines = [f"{head}: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    @classmethod
    def single(cls, path: str, message: str, value: object = None,
               allowed: str | Iterable[str] | None = None) -> SpecError:
        if allowed is not None and not isinstance(allowed, str):
            allowed = ", ".join(str(a) for a in allowed)
        return cls([Problem(path, message, value, allowed)])


class StructureError(ValueError):
    """A structure cannot be built as requested (e.g. no symmetric slab exists)."""


class EngineUnavailable(RuntimeError):
    """The engine cannot run here; ``reason`` says why and how to fix it."""

    def __init__(self, engine: str, reason: str) -> None:
        self.engine, self.reason = engine, reason
        super().__init__(f"engine {engine!r} unavailable: {reason}")
