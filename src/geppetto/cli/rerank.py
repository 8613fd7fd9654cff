"""``geppetto rerank QUERY --docs FILE``: order documents by relevance with the profile's reranker.

``--docs`` takes one document per line (a JSON object with ``id`` and ``text``, a JSON string, or
plain text; ids default to the line number). Prints rank, score, id and the start of the text
(through ``safe_text``: documents may be scraped text), or the response as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from geppetto.errors import ConfigError

if TYPE_CHECKING:
    from geppetto.rerank.types import RerankResponse


def add_rerank_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from geppetto.cli.profile_commands import add_profile_options

    rerank = commands.add_parser("rerank", help="order documents by relevance to a query (profile's rerank)")
    rerank.add_argument("query", help="the query")
    rerank.add_argument("--docs", required=True, metavar="FILE", help="one document per line ('-' for stdin)")
    rerank.add_argument("--top-n", type=int, default=None, metavar="N", help="keep the N best (default: all)")
    add_profile_options(rerank)
    rerank.add_argument("--json", action="store_true", help="print the response as JSON")
    rerank.set_defaults(handler="geppetto.cli.rerank:run")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from geppetto.cli.embed import progress_bar, read_inputs
    from geppetto.cli.profiles import resolve_from_args
    from geppetto.rerank.factory import reranker_from_settings
    from geppetto.rerank.types import Document, RerankRequest

    items = read_inputs(args.docs, "--docs")
    if not items:
        raise ConfigError("--docs has no documents")
    top_n = len(items) if args.top_n is None else args.top_n
    request = RerankRequest(args.query, tuple(Document(i, t) for i, t in items), top_n)
    reranker = reranker_from_settings(resolve_from_args(args))

    async def go() -> RerankResponse:
        try:
            return await reranker.rerank(request)
        finally:
            await reranker.aclose()

    with progress_bar(len(items), "reranking") as advance:
        response = asyncio.run(go())
        advance(len(items))
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps(response.to_dict()).decode() + "\n")
        return 0
    from geppetto.terminal_text import safe_text

    texts = dict(items)
    for result in response.results:
        snippet = " ".join(texts[result.document_id].split())
        if len(snippet) > 60:
            snippet = snippet[:57] + "..."
        ident = safe_text(result.document_id)
        sys.stdout.write(f"{result.rank:>3}  {result.score:>10.4f}  {ident}  {safe_text(snippet)}\n")
    return 0
