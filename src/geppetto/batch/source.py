"""An input file as a re-iterable stream of runnable items, for a batch larger than memory.

The CLI reads its input twice, both times streamed: a first pass (:meth:`InputSource.scan`)
reports every bad row with its location and counts what will run, before anything runs (so
``--fail-fast`` still runs nothing on bad input, and the progress bar knows its total); each
iteration of the source then reads the file again and yields the runnable items not already
done. Memory holds the ids (for the duplicate check and resume), never the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from geppetto.batch.items import BatchItem, InputProblem, Template, input_rows, scan_rows

Check = Callable[[BatchItem], "str | None"]


class InputSource:
    """``path`` as items; ``check(item)`` says why an item cannot run (``None``: it can);
    iterating skips items whose id key is in ``skip`` (done by an earlier run)."""

    def __init__(
        self,
        path: str | Path,
        *,
        fmt: str | None = None,
        template: Template | None = None,
        check: Check | None = None,
        skip: Collection[str] = (),
    ) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.template = template
        self.check = check
        self.skip = skip

    def scan(self) -> Iterator[BatchItem | InputProblem]:
        """Every row in input order: a runnable item, or a located problem."""
        for entry in scan_rows(input_rows(self.path, self.fmt), self.template):
            if isinstance(entry, BatchItem) and self.check is not None:
                problem = self.check(entry)
                if problem is not None:
                    yield InputProblem(entry.where, problem, entry.id)
                    continue
            yield entry

    def __iter__(self) -> Iterator[BatchItem]:
        for entry in self.scan():
            if isinstance(entry, BatchItem) and entry.key not in self.skip:
                yield entry
