"""What the commands print: aligned tables and the metrics of each split."""

from __future__ import annotations


def print_table(rows) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


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
