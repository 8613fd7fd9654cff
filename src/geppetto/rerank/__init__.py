"""Reranking: order documents by relevance to a query through a ``/v1/rerank`` endpoint
(llama.cpp, the reference's provider, or Cohere/Jina). ``reranker_from_settings(settings)``
builds one from a profile's ``rerank`` section; ``await reranker.rerank(request)`` returns the
top-n results sorted by score with 1-based ranks.
"""

from __future__ import annotations

from geppetto._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Document": "geppetto.rerank.types",
    "HTTPReranker": "geppetto.rerank.provider",
    "RerankConfigError": "geppetto.rerank.types",
    "RerankError": "geppetto.rerank.types",
    "RerankInvalidRequest": "geppetto.rerank.types",
    "RerankInvalidResponse": "geppetto.rerank.types",
    "RerankModel": "geppetto.rerank.types",
    "RerankRequest": "geppetto.rerank.types",
    "RerankRequestTooLarge": "geppetto.rerank.types",
    "RerankResponse": "geppetto.rerank.types",
    "RerankResponseTooLarge": "geppetto.rerank.types",
    "RerankResult": "geppetto.rerank.types",
    "RerankUnavailable": "geppetto.rerank.types",
    "RerankUsage": "geppetto.rerank.types",
    "rerank_section": "geppetto.rerank.factory",
    "reranker_from_settings": "geppetto.rerank.factory",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
