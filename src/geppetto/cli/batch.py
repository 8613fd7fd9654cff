"""``geppetto batch``: read the items, report bad ones by line, skip those already done, run the
rest through an executor with a progress bar, and summarize.

Exit code 0 when every item ran and succeeded, 1 when any item failed or any input line was bad
(the batch still ran the others, unless ``--fail-fast``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from geppetto.errors import ConfigError

if TYPE_CHECKING:
    from geppetto.batch.context import BatchConfig
    from geppetto.batch.items import BatchItem, InputProblem
    from geppetto.batch.plan import OnWritten
    from geppetto.batch.source import InputSource

# Executors by name: "module:function" taking (plan, on_written); each imports its heavy
# dependencies (Ray, the provider SDKs) itself and says how to install them.
EXECUTORS = {
    "local": "geppetto.batch.plan:run_local",
    "ray": "geppetto.batch.ray_executor:run_plan",
}
PROVIDER_BATCH = "geppetto.batch.provider:run_plan"


def _executor(args: argparse.Namespace) -> Any:
    target = PROVIDER_BATCH if args.provider_batch else EXECUTORS[args.executor]
    module_name, _, function = target.partition(":")
    return getattr(importlib.import_module(module_name), function)


def _config(args: argparse.Namespace) -> BatchConfig:
    from geppetto.batch.context import BatchConfig
    from geppetto.cli import settings_options

    flags: dict[str, Any] = {name.replace("_", "-"): value for name, value in settings_options(args).items()}
    if args.ai_api_type:
        flags["ai-api-type"] = args.ai_api_type
    if args.ai_engine:
        flags["ai-engine"] = args.ai_engine
    from geppetto.inputs import LIMITS, read_file_bytes

    schema = None
    if args.schema:
        try:
            schema = orjson.loads(read_file_bytes(args.schema, LIMITS.profile_file, "--schema"))
        except OSError as exc:
            raise ConfigError(f"cannot read --schema {args.schema}: {exc.strerror}") from None
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"--schema {args.schema} is not JSON: {exc}") from None
        if not isinstance(schema, dict) or not schema:
            raise ConfigError(f"--schema {args.schema} must hold a JSON object (a JSON schema)")
    return BatchConfig(
        profile=args.profile,
        profile_file=args.profile_file,
        profile_registries=args.profile_registries,
        config_file=args.config_file,
        flags=flags,
        system=args.system,
        schema=schema,
        full=args.full,
        requests_per_minute=args.rpm,
        tokens_per_minute=args.tpm,
        limits=_limits(args.limit),
    )


def _limits(specs: list[str]) -> dict[str, tuple[float | None, float | None]]:
    """``--limit PROFILE=RPM[/TPM]`` values; either number may be left empty."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        rpm_text, _, tpm_text = values.partition("/")
        try:
            numbers = [float(t) if t.strip() else None for t in (rpm_text, tpm_text)]
        except ValueError:
            numbers = []
        if not sep or not name.strip() or len(numbers) != 2 or any(n is not None and n <= 0 for n in numbers):
            raise ConfigError(
                f"--limit {spec!r}: expected PROFILE=RPM[/TPM] with positive numbers, e.g. fast=500/200000"
            )
        out[name.strip()] = (numbers[0], numbers[1])
    return out


def _say(message: str) -> None:
    from geppetto.terminal_text import safe_text

    print(safe_text(message), file=sys.stderr, flush=True)


@dataclass(slots=True)
class _Scanned:
    """What the first pass over the input found: bad rows (in input order) and counts."""

    problems: list[InputProblem] = field(default_factory=list)
    runnable: int = 0  # items that will run
    skipped: int = 0  # items an earlier run already did


def _source(args: argparse.Namespace, config: BatchConfig, done: Collection[str]) -> InputSource:
    from geppetto.batch.context import BatchContext
    from geppetto.batch.items import Template
    from geppetto.batch.source import InputSource

    path = Path(args.input)
    if not path.is_file():
        raise ConfigError(f"input file not found: {args.input}")
    try:
        template = Template(args.template) if args.template else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    ctx = BatchContext(config)

    def check(item: BatchItem) -> str | None:
        problem = ctx.check(item)
        if problem is not None and item.profile is None and not item.settings:
            # The batch's own engine cannot be built (a missing key, say): one error, not one per line.
            raise ConfigError(problem)
        return problem

    return InputSource(path, fmt=args.format, template=template, check=check, skip=done)


def _scan(source: InputSource) -> _Scanned:
    """The first pass, streamed: every problem located, the items counted (see batch.source)."""
    from geppetto.batch.items import InputProblem

    out = _Scanned()
    try:
        for entry in source.scan():
            if not isinstance(entry, InputProblem):
                if entry.key in source.skip:
                    out.skipped += 1
                else:
                    out.runnable += 1
                continue
            out.problems.append(entry)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return out


def _done(args: argparse.Namespace) -> tuple[Path | None, set[str]]:
    from geppetto.batch.output import read_output

    output = Path(args.output) if args.output not in (None, "-") else None
    if output is None:
        return None, set()
    state = read_output(output)
    if state.bad_lines:
        raise ConfigError(f"{output} line {state.bad_lines[0]} is not a batch result: is -o the right file?")
    return output, state.done(retry_failed=args.retry_failed)


def run(args: argparse.Namespace) -> int:
    from geppetto.batch.plan import BatchPlan
    from geppetto.batch.progress import BatchProgress, BatchStats

    if args.address and args.executor != "ray":
        raise ConfigError("--address is for --executor ray")
    executor = _executor(args)
    config = _config(args)
    output, done = _done(args)
    source = _source(args, config, done)
    scanned = _scan(source)
    problems = scanned.problems
    for problem in problems:
        _say(f"error: {problem}")
    if problems and args.fail_fast:
        raise ConfigError(f"{len(problems)} bad input line(s); nothing was run (--fail-fast)")
    plan = BatchPlan(
        items=source,  # streamed again as it runs
        config=config,
        output=output,
        concurrency=args.concurrency,
        ordered=args.ordered,
        fail_fast=args.fail_fast,
        address=args.address,
        poll_interval=args.poll_interval,
        on_status=None if args.quiet else _say,
    )
    skipped = scanned.skipped
    stats = BatchStats(total=scanned.runnable, skipped=skipped, invalid=len(problems))
    if skipped and not args.quiet:
        _say(f"resuming {plan.output}: {skipped} item(s) already done")
    show = not args.quiet and sys.stderr is not None and sys.stderr.isatty()
    on_written: OnWritten
    try:
        with BatchProgress(stats, sys.stderr, show=show) as progress:
            on_written = progress.update
            executor(plan, on_written)
    except KeyboardInterrupt:
        if not args.quiet:
            _say(stats.summary())
            if plan.output is not None:
                written = f"{stats.done} result(s) are in {plan.output}"
                _say(f"interrupted: {written}; run the same command to resume")
        raise
    if not args.quiet:
        for failure in stats.failures:
            _say(f"failed: {failure.id!r}: {failure.error}")
        if stats.failed > len(stats.failures):
            _say(f"... and {stats.failed - len(stats.failures)} more failed item(s) in the output")
        _say(stats.summary())
    return 1 if stats.failed or problems else 0
