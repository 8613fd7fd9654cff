"""``geppetto batch``: read the items, report bad ones by line, skip those already done, run the
rest through an executor with a progress bar, and summarize.

Exit code 0 when every item ran and succeeded, 1 when any item failed or any input line was bad
(the batch still ran the others, unless ``--fail-fast``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from geppetto.errors import ConfigError

if TYPE_CHECKING:
    from geppetto.batch.context import BatchConfig
    from geppetto.batch.items import BatchItem, InputProblem
    from geppetto.batch.plan import BatchPlan, OnWritten

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


def _check_items(items: list[BatchItem], config: BatchConfig) -> tuple[list[BatchItem], list[InputProblem]]:
    """Items whose profile and settings build an engine; the others as located problems."""
    from geppetto.batch.context import BatchContext
    from geppetto.batch.items import InputProblem

    ctx = BatchContext(config)
    good: list[BatchItem] = []
    bad: list[InputProblem] = []
    for item in items:
        problem = ctx.check(item)
        if problem is not None and item.profile is None and not item.settings:
            # The batch's own engine cannot be built (a missing key, say): one error, not one per line.
            raise ConfigError(problem)
        if problem is None:
            good.append(item)
        else:
            bad.append(InputProblem(item.where, problem, item.id))
    return good, bad


def _read(args: argparse.Namespace, config: BatchConfig) -> tuple[list[BatchItem], list[InputProblem]]:
    from geppetto.batch.items import Template, read_items

    path = Path(args.input)
    if not path.is_file():
        raise ConfigError(f"input file not found: {args.input}")
    try:
        template = Template(args.template) if args.template else None
        parsed = read_items(path, fmt=args.format, template=template)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    items, bad = _check_items(parsed.items, config)
    problems = sorted([*parsed.problems, *bad], key=lambda p: _order(p.where))
    return items, problems


def _order(where: str) -> tuple[int, str]:
    tail = where.rsplit(":", 1)[-1].removeprefix("row ")
    return (int(tail), where) if tail.isdigit() else (0, where)


def _plan(args: argparse.Namespace, items: list[BatchItem], config: BatchConfig) -> tuple[BatchPlan, int]:
    from geppetto.batch.output import read_output
    from geppetto.batch.plan import BatchPlan

    output = Path(args.output) if args.output not in (None, "-") else None
    skipped = 0
    if output is not None:
        state = read_output(output)
        if state.bad_lines:
            raise ConfigError(
                f"{output} line {state.bad_lines[0]} is not a batch result: is -o the right file?"
            )
        done = state.done(retry_failed=args.retry_failed)
        if done:
            kept = [item for item in items if item.key not in done]
            skipped = len(items) - len(kept)
            items = kept
    plan = BatchPlan(
        items=items,
        config=config,
        output=output,
        concurrency=args.concurrency,
        ordered=args.ordered,
        fail_fast=args.fail_fast,
        address=args.address,
        poll_interval=args.poll_interval,
        on_status=None if args.quiet else _say,
    )
    return plan, skipped


def run(args: argparse.Namespace) -> int:
    from geppetto.batch.progress import BatchProgress, BatchStats

    if args.address and args.executor != "ray":
        raise ConfigError("--address is for --executor ray")
    executor = _executor(args)
    config = _config(args)
    items, problems = _read(args, config)
    for problem in problems:
        _say(f"error: {problem}")
    if problems and args.fail_fast:
        raise ConfigError(f"{len(problems)} bad input line(s); nothing was run (--fail-fast)")
    plan, skipped = _plan(args, items, config)
    stats = BatchStats(total=len(plan.items), skipped=skipped, invalid=len(problems))
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
                done = f"{stats.done} result(s) are in {plan.output}"
                _say(f"interrupted: {done}; run the same command to resume")
        raise
    if not args.quiet:
        for failure in stats.failures:
            _say(f"failed: {failure.id!r}: {failure.error}")
        if stats.failed > len(stats.failures):
            _say(f"... and {stats.failed - len(stats.failures)} more failed item(s) in the output")
        _say(stats.summary())
    return 1 if stats.failed or problems else 0
