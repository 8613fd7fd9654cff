"""Default prompts shared by the front ends (the CLI, the web chat): stdlib only, any layer uses it.

Kept out of ``geppetto.cli`` so that ``serve/`` (beside the CLI, not above it) need not import the
CLI package for one string.
"""

from __future__ import annotations

# The reference runner's default system prompt: small local models answer plain questions briefly
# with it and ramble without it.
REFERENCE_SYSTEM_PROMPT = "You are a helpful assistant. Answer the question in a short and concise manner. "
