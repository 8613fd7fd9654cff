import socket

import pytest


def test_non_loopback_connections_are_refused() -> None:
    with socket.socket() as sock, pytest.raises(RuntimeError, match="network access is disabled"):
        sock.connect(("203.0.113.1", 80))


def test_loopback_connections_are_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.socket() as client:
            client.connect(server.getsockname())


def test_name_resolution_of_outside_hosts_is_refused() -> None:
    with pytest.raises(RuntimeError, match=r"tried to resolve 'example\.com'"):
        socket.getaddrinfo("example.com", 443)
    assert socket.getaddrinfo("localhost", 80)
