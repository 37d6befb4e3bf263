"""The gRPC per-client cap's parts on real sockets in this process: which descriptors are
connections on a port and from whom, which are beyond the cap, and shutting them down without
closing a descriptor another owner holds."""

from __future__ import annotations

import contextlib
import os
import socket
import stat

import pytest

from houseprice.serve.grpc_connections import (
    PERIOD_S,
    ClientCap,
    Connection,
    beyond_cap,
    connections_on,
    own_sockets,
    shut_down,
)


@pytest.fixture
def listener():
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


@contextlib.contextmanager
def connected(listener, sources):
    """Client sockets from ``sources`` and the server's accepted ends, in connection order."""
    clients, accepted = [], []
    try:
        for source in sources:
            clients.append(socket.create_connection(listener.getsockname(), 5, (source, 0)))
            accepted.append(listener.accept()[0])
        yield clients, accepted
    finally:
        for s in clients + accepted:
            s.close()


def _ended(client: socket.socket) -> bool:
    client.settimeout(0.5)  # a shut-down end reads as ended at once
    try:
        return client.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_connections_on_a_port_are_the_accepted_ends_by_peer(listener):
    port = listener.getsockname()[1]
    with connected(listener, ["127.0.0.2"] * 3 + ["127.0.0.3"] * 2) as (_, accepted):
        found = sorted((c.fd, c.client) for c in connections_on(port))
        expected = [(s.fileno(), "127.0.0.2") for s in accepted[:3]]
        expected += [(s.fileno(), "127.0.0.3") for s in accepted[3:]]
        assert found == sorted(expected)  # not the listener, not the clients' own ends
        assert {c.inode for c in connections_on(port)} == {
            os.fstat(s.fileno()).st_ino for s in accepted
        }


def test_beyond_the_cap_are_a_clients_newest_and_only_its_own():
    def at(inode, client, fd):
        return Connection(inode, client, fd)

    held = [at(1, "a", 9), at(2, "a", 5), at(3, "a", 7), at(4, "b", 3), at(5, "a", 4)]
    # 1 and 3 were seen by the last look: they are kept before any new one (fds 4 and 5)
    assert [c.inode for c in beyond_cap(held, {1, 3}, 3)] == [2]
    assert [c.inode for c in beyond_cap(held, set(), 2)] == [3, 1]  # new ones: by fd
    assert beyond_cap(held, set(), 4) == [] and beyond_cap(held, set(), 1)[-1].client == "a"
    assert len(beyond_cap(held, set(), 1)) == 3  # "b" holds one: within a cap of 1


def test_a_look_shuts_down_the_excess_and_leaves_the_descriptors_open(listener):
    port = listener.getsockname()[1]
    closed: list[int] = []
    cap = ClientCap(port, 2, closed.append)
    with connected(listener, ["127.0.0.2"] * 5 + ["127.0.0.3"]) as (clients, accepted):
        assert cap.look() == 3 and closed == [3]
        assert [_ended(c) for c in clients] == [False, False, True, True, True, False]
        for s in accepted:  # shut down, not closed: their owner closes them
            os.fstat(s.fileno())
        assert cap.look() == 0 and closed == [3]  # shut down once, counted once


def test_a_look_keeps_what_a_client_held_before_its_new_connections(listener):
    port = listener.getsockname()[1]
    cap = ClientCap(port, 2, lambda n: None)
    with connected(listener, ["127.0.0.2"] * 2) as (old, _):
        assert cap.look() == 0
        with connected(listener, ["127.0.0.2"] * 2) as (new, _):
            assert cap.look() == 2
            assert [_ended(c) for c in old + new] == [False, False, True, True]


def test_a_descriptor_that_now_holds_another_socket_is_left_alone(listener):
    with connected(listener, ["127.0.0.2"]) as (clients, accepted):
        stale = Connection(
            os.fstat(accepted[0].fileno()).st_ino + 1, "127.0.0.2", accepted[0].fileno()
        )
        assert shut_down(stale) is False and not _ended(clients[0])
        gone = Connection(0, "127.0.0.2", 10_000)
        assert shut_down(gone) is False
        real = Connection(os.fstat(accepted[0].fileno()).st_ino, "127.0.0.2", accepted[0].fileno())
        assert shut_down(real) is True and _ended(clients[0])


def test_a_socket_that_cannot_be_asked_now_is_asked_at_the_next_look(listener, monkeypatch):
    """With every descriptor taken (EMFILE), a new connection is not taken for no connection
    for its whole life: it is asked again, and counted then."""
    import errno

    from houseprice.serve import grpc_connections

    port, known = listener.getsockname()[1], {}
    with connected(listener, ["127.0.0.2"] * 2) as (_, accepted):
        first, second = (s.fileno() for s in accepted)  # listed in this order
        real_dup = os.dup

        def no_descriptor_free_for_the_first(fd):
            if fd == first:
                raise OSError(errno.EMFILE, "Too many open files")
            return real_dup(fd)

        monkeypatch.setattr(grpc_connections.os, "dup", no_descriptor_free_for_the_first)
        assert [c.fd for c in connections_on(port, known)] == [second]  # and the rest asked
        monkeypatch.setattr(grpc_connections.os, "dup", real_dup)
        assert sorted(c.fd for c in connections_on(port, known)) == [first, second]


def test_the_listing_goes_past_a_descriptor_closed_meanwhile(listener, monkeypatch):
    """A descriptor listed but closed before it is looked at (the listing's own, or one gRPC
    core closed) is passed over, not the end of the list."""
    import types

    from houseprice.serve import grpc_connections

    with connected(listener, ["127.0.0.2"]) as (_, accepted):
        fd = accepted[0].fileno()
        closed = os.open(os.devnull, os.O_RDONLY)
        os.close(closed)
        listed = types.SimpleNamespace(
            listdir=lambda folder: [str(closed), str(fd)], fstat=os.fstat
        )
        monkeypatch.setattr(grpc_connections, "os", listed)  # this order, closed first
        assert own_sockets() == {os.fstat(fd).st_ino: fd}


def _descriptors_of(inode: int) -> list[int]:
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            status = os.fstat(int(name))
        except OSError:  # closed since the listing
            continue
        if stat.S_ISSOCK(status.st_mode) and status.st_ino == inode:
            found.append(int(name))
    return found


def test_shutting_down_an_ended_connection_is_false_and_leaves_no_descriptor(listener):
    import warnings

    with connected(listener, ["127.0.0.2"]) as (clients, accepted):
        fd = accepted[0].fileno()
        real = Connection(os.fstat(fd).st_ino, "127.0.0.2", fd)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert shut_down(real) is True
            clients[0].close()  # both ends gone: the socket is no longer connected
            assert shut_down(real) is False
        # Its duplicates closed: the accepted descriptor alone holds the socket. (Counted by the
        # socket, not over the whole process, whose other threads open and close their own.)
        assert _descriptors_of(real.inode) == [fd]
        assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_started_it_looks_and_stopped_it_looks_no_more(listener):
    import asyncio
    import time

    looks = []

    class Counted(ClientCap):
        def look(self) -> int:
            looks.append(time.monotonic())
            if len(looks) == 1:  # no descriptor free to list them: the loop goes on
                raise OSError(24, "Too many open files")
            return 0

    async def started_then_stopped() -> None:
        cap = Counted(listener.getsockname()[1], 1, lambda n: None)
        cap.start()
        deadline = time.monotonic() + 10
        while len(looks) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await cap.stop()  # cancels the loop without raising
        stopped = len(looks)
        await asyncio.sleep(2 * PERIOD_S + 0.2)
        assert len(looks) >= 2 and len(looks) == stopped

    asyncio.run(started_then_stopped())
