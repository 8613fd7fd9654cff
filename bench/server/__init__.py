"""A loopback OpenAI-compatible server for benchmarks and reliability tests (see :mod:`.app`)."""

from bench.server.app import LoopbackServer, SeenRequest
from bench.server.config import ReplyConfig, base_path, parse_path
from bench.server.faults import Fault, FaultKind
from bench.server.process import ServerProcess
from bench.server.threaded import ThreadedServer

__all__ = [
    "Fault",
    "FaultKind",
    "LoopbackServer",
    "ReplyConfig",
    "SeenRequest",
    "ServerProcess",
    "ThreadedServer",
    "base_path",
    "parse_path",
]
