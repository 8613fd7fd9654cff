"""The local model counts tokens with its own template and tokenizer: exactly what a run reports."""

from __future__ import annotations

from tests.local_model import require_local_model

from geppetto.engines.base import RunContext
from geppetto.engines.local import create_local_engine
from geppetto.engines.tokens import acount_tokens
from geppetto.turns import Turn, TurnMetaKeys

require_local_model()


async def test_the_count_equals_the_prompt_tokens_of_a_run() -> None:
    engine = create_local_engine("", temperature=0.0, max_tokens=2)
    turn = Turn.builder().system("be brief").user("What is the capital of France? One word.").build()
    counted = await acount_tokens(engine, turn)
    assert (counted.method, counted.provider) == ("tokenizer", "local")
    out = await engine.run(turn.clone(deep=True), RunContext())
    assert counted.input_tokens == out.metadata[TurnMetaKeys.USAGE.id]["input_tokens"]
    longer = await acount_tokens(engine, Turn.builder().system("be brief").user("word " * 50).build())
    assert longer.input_tokens > counted.input_tokens
    assert (await acount_tokens(engine, Turn())).input_tokens > 0  # the default system prompt counts
