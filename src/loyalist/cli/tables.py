"""Terminal output that reads at 80 columns and starts fast.

Two things every command shares:

- :data:`out` and :data:`err`, Rich consoles made on first use, so that ``loyalist
  --help`` and ``--version`` never import more than Typer and Click;
- :func:`show`, which prints a table that fits the terminal without cutting a value
  a user must type (an id, a playbook name, a date): such columns (``Col(...)``) are
  shown whole on one line; free text (``Col(..., wrap=True)``) wraps; when the
  terminal is too narrow, the columns marked ``drop`` go first (highest first), and a
  line under the table says which were left out.

Cells are plain text (never read as Rich markup, so ``[service]`` stays
``[service]``); pass a :class:`rich.text.Text` for a styled cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: columns between two cells: one space of padding each side and the divider
GAP = 3


class _LazyConsole:
    """A Rich console made on first use (importing Rich's console costs ~0.1 s)."""

    def __init__(self, stderr: bool = False):
        self._stderr = stderr
        self._console = None

    def real(self):
        """The Rich console itself (for Rich objects that need one, like Progress)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


#: standard output and standard error of every command
out = _LazyConsole()
err = _LazyConsole(stderr=True)


@dataclass(frozen=True)
class Col:
    """One column of :func:`show`.

    ``wrap=False`` (the default): shown whole on one line: ids, names to type, dates,
    numbers. ``wrap=True``: free text that wraps, never narrower than ``min_width``
    while a droppable column is left. ``drop``: 0 never dropped; otherwise dropped
    when the terminal is too narrow, the highest first.
    """

    header: str
    wrap: bool = False
    right: bool = False
    drop: int = 0
    min_width: int = 16


#: the ``[display]`` settings of the store the command opened (ISO days until then)
_shown: list = [None]


def use_display(display) -> None:
    """Show days and moments as ``display`` (a store's ``[display]`` settings) says;
    :func:`loyalist.cli.options.open_store` calls it when a command opens its store."""
    _shown[0] = display


def _display():
    if _shown[0] is None:
        from loyalist.settings.display import DisplaySettings

        _shown[0] = DisplaySettings()
    return _shown[0]


def day(value) -> str:
    """A day as ``[display] date_format`` shows it ('' for nothing)."""
    return _display().day(value)


def moment(value) -> str:
    """A moment as ``[display] date_format`` and HH:MM ('' for nothing)."""
    return _display().moment(value)


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 customer``, ``2 customers``, ``1,200 rows``."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _width(cell) -> int:
    from rich.cells import cell_len

    text = cell.plain if hasattr(cell, "plain") else str(cell)
    return max((cell_len(line) for line in text.splitlines()), default=0)


def fit(columns: Sequence[Col], rows: Sequence[Sequence], width: int) -> list[int]:
    """Indexes of the columns kept at ``width`` (droppable ones leave, highest first)."""
    natural = [max([_width(c.header), *(_width(r[i]) for r in rows)])
               for i, c in enumerate(columns)]

    def need(keep: list[int]) -> int:
        return (sum(min(natural[i], columns[i].min_width) if columns[i].wrap else natural[i]
                    for i in keep) + GAP * (len(keep) - 1))

    keep = list(range(len(columns)))
    for i in sorted((i for i, c in enumerate(columns) if c.drop),
                    key=lambda i: -columns[i].drop):
        if need(keep) <= width:
            break
        keep.remove(i)
    return keep


def table(columns: Sequence[Col], rows: Iterable[Sequence], *, title: str | None = None,
          width: int | None = None):
    """A Rich table of ``rows`` fitted to ``width`` (default: the terminal's), and the
    headers of the columns left out."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = [list(r) for r in rows]
    width = width or out.width
    keep = fit(columns, rows, width)
    t = Table(title=Text(title) if title else None, box=box.SIMPLE_HEAD, title_justify="left",
              pad_edge=False, show_edge=False, expand=False)
    for i in keep:
        c = columns[i]
        t.add_column(c.header, justify="right" if c.right else "left",
                     no_wrap=not c.wrap, overflow="fold", ratio=1 if c.wrap else None)
    for r in rows:
        t.add_row(*(r[i] if hasattr(r[i], "plain") else Text("" if r[i] is None else str(r[i]))
                    for i in keep))
    return t, [columns[i].header for i in range(len(columns)) if i not in keep]


def show(columns: Sequence[Col], rows: Iterable[Sequence], *, title: str | None = None,
         console=None, empty: str | None = None) -> None:
    """Print :func:`table`; with ``empty`` and no rows, print ``empty`` instead."""
    console = console or out
    rows = list(rows)
    if not rows and empty is not None:
        console.print(empty, markup=False, highlight=False)
        return
    t, dropped = table(columns, rows, title=title, width=console.width)
    console.print(t)
    if dropped:
        console.print(f"Not shown at this width ({console.width} columns): "
                      f"{', '.join(dropped)}. A wider terminal shows them.",
                      markup=False, highlight=False, style="dim")


class progress:  # noqa: N801 - used as a context manager, like open()
    """A spinner with the elapsed time, for anything that may take over two seconds:
    ``with progress() as step: step("fitting"); ...``. It vanishes when done, and
    shows nothing when the output is not a terminal."""

    def __init__(self, first: str = "starting"):
        self.first = first

    def __enter__(self):
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._bar = None
        if not out.is_terminal:  # a pipe or a file: no spinner, no stray blank line
            return self
        self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                             TimeElapsedColumn(), console=out.real(), transient=True)
        self._bar.__enter__()
        self._task = self._bar.add_task(self.first)
        return self

    def __call__(self, message: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=str(message))

    def __exit__(self, *exc):
        return None if self._bar is None else self._bar.__exit__(*exc)
