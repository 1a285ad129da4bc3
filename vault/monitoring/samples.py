"""One measured value as Prometheus exposes it (a metric name, its labels, a number): what ``/metrics`` renders
and what the in-process alert rules read, so both see the same figures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    name: str  # e.g. vault_seal_lag_seconds
    value: float
    labels: tuple[tuple[str, str], ...] = ()  # sorted (name, value) pairs

    @classmethod
    def of(cls, name: str, value: float, **labels: str) -> "Sample":
        return cls(name, float(value), tuple(sorted(labels.items())))

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


def value_of(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The sum of the samples named ``name`` whose labels include ``labels``; None when there is none."""
    found = [s.value for s in samples if s.name == name and all(s.label(k) == v for k, v in labels.items())]
    return sum(found) if found else None
