"""What the commands print: aligned tables and the metrics of each split."""

from __future__ import annotations

from kerazoo.console import text_table


def print_table(rows) -> None:
    print("\n".join(text_table(rows)))


def print_metrics(metrics: dict) -> None:
    splits = [s for s in ("validation", "test") if s in metrics]
    if not splits:
        return
    names = sorted({k for s in splits for k in metrics[s]})
    rows = [("metric", *splits)] + [(n, *(f"{metrics[s].get(n, float('nan')):.4f}" for s in splits))
                                   for n in names]
    print()
    print_table(rows)


def strategy_text(name: str) -> str:
    """A strategy's class name as a person reads it: `_DefaultDistributionStrategy` is the default strategy."""
    if name.lstrip("_").startswith("Default"):
        return "default strategy (no distribution)"
    return name.lstrip("_")
