"""``geppetto serve``: the OpenAI-compatible server and the web chat (``geppetto.serve.web``)."""
