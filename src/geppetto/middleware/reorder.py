"""Move tool results directly after the tool calls they answer (providers require adjacency)."""

from __future__ import annotations

from geppetto.engines.base import Handler, RunContext
from geppetto.middleware.chain import Middleware
from geppetto.turns.kinds import BlockKind, PayloadKey
from geppetto.turns.model import Block, Turn


def reorder_tool_results_blocks(blocks: list[Block]) -> list[Block]:
    """For each contiguous run of ``tool_call`` blocks, pull the matching later ``tool_use`` blocks
    (by call id, in call order) to just after the run; everything else keeps its order."""
    result: list[Block] = []
    moved: set[int] = set()
    index = 0
    while index < len(blocks):
        block = blocks[index]
        if id(block) in moved:
            index += 1
            continue
        if block.kind is not BlockKind.TOOL_CALL:
            result.append(block)
            index += 1
            continue
        run_end = index
        while run_end < len(blocks) and blocks[run_end].kind is BlockKind.TOOL_CALL:
            run_end += 1
        calls = blocks[index:run_end]
        result.extend(calls)
        for call in calls:
            call_id = call.payload.get(PayloadKey.ID)
            for later in blocks[run_end:]:
                if (
                    later.kind is BlockKind.TOOL_USE
                    and id(later) not in moved
                    and later.payload.get(PayloadKey.ID) == call_id
                ):
                    result.append(later)
                    moved.add(id(later))
                    break
        index = run_end
    return result if len(result) == len(blocks) else list(blocks)


def reorder_tool_results() -> Middleware:
    def middleware(next_handler: Handler) -> Handler:
        async def handle(turn: Turn, ctx: RunContext) -> Turn:
            turn.blocks = reorder_tool_results_blocks(turn.blocks)
            return await next_handler(turn, ctx)

        return handle

    return middleware
