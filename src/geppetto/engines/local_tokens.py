"""Exact token counts for the local model: its own chat template and tokenizer.

llama.cpp serves the loaded model on a loopback port locked with a per-load key (see
:func:`geppetto.engines.local_model._load`); its ``/apply-template`` renders the messages exactly
as a chat completion would (generation prompt included) and ``/tokenize`` counts them, without
decoding anything. The count equals the ``prompt_tokens`` the inference reports.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from geppetto.engines.local_model import LocalModelError
from geppetto.engines.tokens import TokenCount
from geppetto.turns.model import Turn

if TYPE_CHECKING:
    from geppetto.engines.local import LocalEngine

_TIMEOUT_S = 60.0


async def local_count_tokens(engine: LocalEngine, turn: Turn) -> TokenCount:
    from geppetto.engines.local import turn_to_messages

    messages = turn_to_messages(turn.blocks)
    if engine.default_system_prompt and (not messages or messages[0]["role"] != "system"):
        messages.insert(0, {"role": "system", "content": engine.default_system_prompt})
    if not messages:
        return TokenCount(0, "tokenizer", "local", engine.model)
    loaded = await asyncio.to_thread(engine.load)
    address = str(loaded.server.listening_address).rstrip("/")
    import aiohttp

    headers = {"Authorization": f"Bearer {loaded.api_key}"}
    timeout = aiohttp.ClientTimeout(total=_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
            rendered = await _post(http, f"{address}/apply-template", {"messages": messages})
            prompt = rendered.get("prompt")
            if not isinstance(prompt, str):
                raise LocalModelError("llama.cpp rendered no prompt from the chat template")
            body = {"content": prompt, "add_special": True, "parse_special": True}
            tokens = (await _post(http, f"{address}/tokenize", body)).get("tokens")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise LocalModelError(f"the local model's tokenizer did not answer ({type(exc).__name__})") from None
    if not isinstance(tokens, list):
        raise LocalModelError("llama.cpp returned no tokens for the prompt")
    return TokenCount(len(tokens), "tokenizer", "local", engine.model)


async def _post(http: Any, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with http.post(url, json=body) as response:
        if response.status != 200:
            raise LocalModelError(
                f"the local model's tokenizer failed (HTTP {response.status}); check the chat template"
            )
        payload = await response.json(content_type=None)
    return payload if isinstance(payload, dict) else {}
