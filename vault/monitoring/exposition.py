"""Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats): one ``# HELP``
and ``# TYPE`` per family, then its samples, label values escaped. A sample whose family is not declared is a
bug, refused here rather than exposed untyped. Pure: samples in, text out."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vault.monitoring.samples import Sample

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


@dataclass(frozen=True)
class Family:
    name: str
    type: str  # counter | gauge | histogram
    help: str
    labels: tuple[str, ...] = ()  # documentation and tests: the label names its samples carry


def family_of(name: str, families: dict[str, Family]) -> Family:
    """The family a sample named ``name`` belongs to (``x_bucket`` belongs to histogram ``x``)."""
    if name in families:
        return families[name]
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and base in families and suffix in SUFFIXES.get(families[base].type, ()):
            return families[base]
    raise KeyError(f"metric {name} has no declared family (vault.monitoring.families)")


def render(samples: list[Sample], families: dict[str, Family]) -> str:
    """The exposition text: families in declaration order, samples of a family in the order given."""
    grouped: dict[str, list[Sample]] = {}
    for sample in samples:
        grouped.setdefault(family_of(sample.name, families).name, []).append(sample)
    lines = []
    for family in families.values():
        found = grouped.get(family.name)
        if not found:
            continue
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        lines += [_line(sample) for sample in found]
    return "\n".join(lines) + "\n"


def _line(sample: Sample) -> str:
    labels = ",".join(f'{name}="{_escape_value(value)}"' for name, value in sample.labels)
    return f"{sample.name}{{{labels}}} {_number(sample.value)}" if labels else f"{sample.name} {_number(sample.value)}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value == int(value) and abs(value) < 2**53 else repr(value)


def _escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
