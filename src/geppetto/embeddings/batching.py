"""Splitting texts into provider-sized batches, running them concurrently, checking the vectors.

Providers implement ``_embed_batch(texts)`` for one request; :class:`BatchingEmbedder` cuts the
input at ``batch_size`` texts or ``batch_chars`` characters (whichever comes first), keeps at
most ``concurrency`` requests in flight, reassembles the vectors in input order, and refuses an
answer with the wrong number of vectors, a non-finite value, or vectors of the wrong size.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

from geppetto.embeddings.transport import HttpFailure
from geppetto.embeddings.types import (
    EmbeddingModel,
    EmbeddingProviderError,
    EmbeddingResponseError,
    check_texts,
)

Progress = Callable[[int], None]


def split_batches(texts: Sequence[str], batch_size: int, batch_chars: int) -> list[tuple[int, list[str]]]:
    """``(start index, texts)`` per batch; a single text longer than ``batch_chars`` gets its own."""
    batches: list[tuple[int, list[str]]] = []
    start, count = 0, len(texts)
    while start < count:
        batch = texts[start : start + batch_size]  # a list's slice is already a new list
        if not isinstance(batch, list):
            batch = list(batch)
        if sum(map(len, batch)) > batch_chars:  # rare: cut at the character budget instead
            chars, keep = 0, 0
            for text in batch:
                chars += len(text)
                if chars > batch_chars:
                    break
                keep += 1
            batch = batch[: max(keep, 1)]
        batches.append((start, batch))
        start += len(batch)
    return batches


def check_vectors(raw: Any, expected: int, dimensions: int, provider: str) -> list[list[float]]:
    """``raw`` as ``expected`` finite float vectors of one size (``dimensions`` when > 0)."""
    if not isinstance(raw, list) or len(raw) != expected:
        got = len(raw) if isinstance(raw, list) else "no"
        raise EmbeddingResponseError(f"{provider} returned {got} vectors for {expected} texts")
    if _all_good(raw, dimensions):
        return raw
    size = dimensions
    out: list[list[float]] = []
    for index, vector in enumerate(raw):  # something is wrong: find it and say what
        if not isinstance(vector, list) or not vector:
            raise EmbeddingResponseError(f"{provider} returned no vector for text {index}")
        if size and len(vector) != size:
            raise EmbeddingResponseError(
                f"{provider} returned a {len(vector)}-dimensional vector for text {index}, expected {size} "
                "(fix embeddings.dimensions or the model)"
            )
        size = len(vector)
        try:
            total = sum(vector)  # one C loop: fails on a non-number, is NaN/inf if any value is
        except TypeError:
            raise EmbeddingResponseError(
                f"{provider} returned a non-numeric value in the vector for text {index}"
            ) from None
        if not math.isfinite(total) and not all(map(math.isfinite, vector)):
            raise EmbeddingResponseError(
                f"{provider} returned NaN or infinity in the vector for text {index}"
            )
        out.append(vector)
    return out


def _all_good(raw: list[Any], dimensions: int) -> bool:
    """The common case in a few C-level passes: every vector a non-empty list of one size, every
    value a finite number. One ``sum`` over the chained values fails on a non-number (a string,
    ``null``, a nested list, a vector that is an object: its keys are strings) and is non-finite
    if any value is NaN or infinite (only the ``json`` fallback decodes those; orjson refuses
    them). One call for all values, not one per vector: with short vectors the per-call cost of
    ``sum`` dominated."""
    try:
        sizes = set(map(len, raw))
        if len(sizes) != 1 or (size := sizes.pop()) == 0 or (dimensions and size != dimensions):
            return False
        total = sum(chain.from_iterable(raw))
    except TypeError:
        return False
    return math.isfinite(total) and set(map(type, raw)) == {list}


def provider_error(provider: str, failure: HttpFailure) -> EmbeddingProviderError:
    return EmbeddingProviderError(
        f"{provider} embeddings request failed: {failure.what}",
        provider=provider,
        status=failure.status,
        retryable=failure.retryable,
    )


class BatchingEmbedder:
    """Base of the providers: batching, bounded concurrency and checks around ``_embed_batch``."""

    provider = ""
    batch_size = 256
    batch_chars = 1_000_000
    concurrency = 4

    def __init__(self, name: str, dimensions: int, *, check_dimensions: bool) -> None:
        self.name = name
        self.dimensions = dimensions
        self.check_dimensions = check_dimensions
        self.progress: Progress | None = None

    def model(self) -> EmbeddingModel:
        return EmbeddingModel(self.provider, self.name, self.dimensions)

    async def aclose(self) -> None:
        return None

    async def _embed_batch(self, texts: list[str]) -> Any:
        """The provider's answer for one batch, as a list of vectors (checked by the caller)."""
        raise NotImplementedError

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        items = check_texts(texts)
        if not items:
            return []
        batches = split_batches(items, self.batch_size, self.batch_chars)
        size = self.dimensions if self.check_dimensions else 0
        if len(batches) == 1:
            return await self._checked(batches[0][1], size)
        out: list[Any] = [None] * len(items)
        gate = asyncio.Semaphore(max(1, self.concurrency))

        async def run(start: int, batch: list[str]) -> None:
            async with gate:
                vectors = await self._checked(batch, size)
            out[start : start + len(batch)] = vectors

        tasks = [asyncio.ensure_future(run(start, batch)) for start, batch in batches]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return out

    async def _checked(self, batch: list[str], size: int) -> list[list[float]]:
        try:
            raw = await self._embed_batch(batch)
        except HttpFailure as failure:
            raise provider_error(self.provider, failure) from None
        vectors = check_vectors(raw, len(batch), size, self.provider)
        if self.progress is not None:
            self.progress(len(batch))
        return vectors
