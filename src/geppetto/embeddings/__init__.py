"""Embeddings: turn texts into vectors through OpenAI (and every OpenAI-compatible server),
Ollama, Gemini or a local GGUF model, with batching, retries and the reference's caches.

``embedder_from_settings(settings)`` builds the embedder a profile's ``embeddings`` section
describes; ``await embedder.embed(texts)`` returns one vector per text.
"""

from __future__ import annotations

from geppetto._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "CachedEmbedder": "geppetto.embeddings.cache",
    "DiskCache": "geppetto.embeddings.disk_cache",
    "Embedder": "geppetto.embeddings.types",
    "EmbeddingConfigError": "geppetto.embeddings.types",
    "EmbeddingError": "geppetto.embeddings.types",
    "EmbeddingModel": "geppetto.embeddings.types",
    "EmbeddingProviderError": "geppetto.embeddings.types",
    "EmbeddingResponseError": "geppetto.embeddings.types",
    "EmbeddingsConfig": "geppetto.embeddings.config",
    "GeminiEmbedder": "geppetto.embeddings.gemini",
    "LocalEmbedder": "geppetto.embeddings.local",
    "MemoryCache": "geppetto.embeddings.cache",
    "OllamaEmbedder": "geppetto.embeddings.ollama",
    "OpenAIEmbedder": "geppetto.embeddings.openai",
    "embedder_from_settings": "geppetto.embeddings.factory",
    "embeddings_config": "geppetto.embeddings.config",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
