"""The engine: a request goes in, a stream of typed events comes out.

`Engine` is the whole contract; `LlamaEngine` implements it on llama.cpp. A remote engine
(an OpenAI-compatible server) can implement the same protocol.
"""

from glmv_cli.engine.base import Engine
from glmv_cli.engine.events import Answer, Box, Done, Event, Progress, Thinking
from glmv_cli.engine.request import Request, Sampling

__all__ = [
    "Answer", "Box", "Done", "Engine", "Event", "Progress", "Request", "Sampling", "Thinking",
]
