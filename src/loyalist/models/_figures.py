"""Shared plotting plumbing: Agg backend, ``ax=None`` handling, saving a set of plots."""

from __future__ import annotations

from pathlib import Path


def axes(ax=None, size=(7, 4)):
    """``ax`` itself, or the axes of a new figure on the non-interactive Agg backend."""
    if ax is not None:
        return ax
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)[1]


def save_figures(obj, plots: dict, folder: Path, dpi: int = 110) -> list[Path]:
    """Draw ``plots`` (name -> function(obj) returning an axes) into ``folder`` as PNG."""
    import matplotlib.pyplot as plt

    paths = []
    for name, fn in plots.items():
        ax = fn(obj)
        ax.figure.tight_layout()
        path = Path(folder) / f"{name}.png"
        ax.figure.savefig(path, dpi=dpi)
        plt.close(ax.figure)
        paths.append(path)
    return paths
