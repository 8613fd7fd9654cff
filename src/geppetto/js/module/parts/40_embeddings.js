// ---- embeddings(settings) and reranker(settings) (reference HEAD): plain objects whose methods
// are own properties (Object.keys lists them) and whose host reference is hidden. A thin mapping
// onto geppetto.embeddings / geppetto.rerank (js/module/embeddings_api.py).

const EMBED_REF = Symbol('geppetto.embeddingsRef');

exports.embeddings = function embeddings(settings) {
  if (settings === undefined || settings === null) {
    throw new TypeError('embeddings(settings) requires a registry-resolved InferenceSettings wrapper');
  }
  const ref = call('geppetto.embeddings.create', settings);
  const provider = {
    embed(text) { return call('geppetto.embeddings.embed', ref, text); },
    embedBatch(texts) { return call('geppetto.embeddings.embedBatch', ref, texts); },
    model() { return call('geppetto.embeddings.model', ref); },
  };
  return Object.freeze(hide(provider, EMBED_REF, ref));
};

exports.reranker = function reranker(settings) {
  if (settings === undefined || settings === null) {
    throw new TypeError('reranker(settings) requires a registry-resolved InferenceSettings wrapper');
  }
  const ref = call('geppetto.reranker.create', settings);
  const provider = {
    rerank(query, documents, options) {
      return call('geppetto.reranker.rerank', ref, query, documents ?? null, options ?? null);
    },
    rerankAsync(query, documents, options) {
      if (arguments.length < 3) {
        throw new TypeError('rerankAsync(query, documents, options) requires three arguments');
      }
      const started = call('geppetto.reranker.rerankAsync', ref, query, documents ?? null, options ?? null);
      let closed = false;
      const cancel = () => { call('geppetto.reranker.cancel', started.control); };
      const close = () => { if (!closed) { closed = true; cancel(); } };
      return { promise: started.promise, cancel, close };
    },
    model() { return call('geppetto.reranker.model', ref); },
  };
  return Object.freeze(hide(provider, EMBED_REF, ref));
};
