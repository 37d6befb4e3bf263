"""serve/one_send.py: a small answer's head and body leave in one send, and nothing is lost,
reordered or held beyond the event loop's turn."""

from __future__ import annotations

import asyncio

import pytest

from houseprice.serve.one_send import HOLD_BYTES, JOIN_BYTES, OneSend


class Recording:
    """A transport that records what reaches it."""

    def __init__(self):
        self.sent: list[bytes] = []
        self.after_close: list[bytes] = []  # asyncio's transports drop these
        self.closed = self.aborted = self.eof = False

    def write(self, data):
        (self.after_close if self.closed else self.sent).append(bytes(data))

    def write_eof(self):
        self.eof = True

    def is_closing(self):
        return self.closed

    def close(self):
        self.closed = True

    def abort(self):
        self.closed = self.aborted = True

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 5)}.get(name, default)


async def _turn() -> None:
    await asyncio.sleep(0)


def _run(steps):
    async def main():
        transport = Recording()
        await steps(OneSend(transport, asyncio.get_running_loop()), transport)
        return transport

    return asyncio.run(main())


def test_a_head_and_body_written_in_one_turn_leave_as_one_send():
    async def steps(sending, transport):
        sending.write(b"HTTP/1.1 200 OK\r\n\r\n")
        sending.write(b'{"price": 22.3}')
        assert transport.sent == [b'HTTP/1.1 200 OK\r\n\r\n{"price": 22.3}']

    _run(steps)


def test_a_lone_write_leaves_at_the_end_of_the_turn():
    async def steps(sending, transport):
        sending.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        assert transport.sent == []
        await _turn()
        assert transport.sent == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        sending.write(b"")  # nothing to send: nothing held
        await _turn()
        assert transport.sent == [b"HTTP/1.1 100 Continue\r\n\r\n"]

    _run(steps)


@pytest.mark.parametrize("size", [HOLD_BYTES + 1, JOIN_BYTES, JOIN_BYTES + 1])
def test_large_writes_pass_through_in_order(size):
    body = b"x" * size

    async def steps(sending, transport):
        sending.write(b"head")
        sending.write(body)
        sending.write(b"tail")
        await _turn()
        assert b"".join(transport.sent) == b"head" + body + b"tail"
        if size <= JOIN_BYTES:  # joined onto the head; the body itself was never held
            assert transport.sent == [b"head" + body, b"tail"]
        else:  # not copied onto the head
            assert transport.sent == [b"head", body, b"tail"]

    _run(steps)


def test_close_and_eof_send_what_is_held_first_and_abort_drops_it():
    async def steps(sending, transport):
        sending.write(b"last answer")
        sending.write_eof()
        assert transport.sent == [b"last answer"] and transport.eof
        sending.write(b"bye")
        sending.close()
        assert transport.sent == [b"last answer", b"bye"] and transport.closed
        assert transport.after_close == []

    _run(steps)

    async def aborted(sending, transport):
        sending.write(b"never")
        sending.abort()
        await _turn()
        assert transport.sent == [] and transport.aborted

    _run(aborted)


def test_nothing_is_held_for_a_closing_transport():
    async def steps(sending, transport):
        sending.write(b"held")
        transport.close()  # closed under it (a limit closes the raw connection)
        await _turn()
        assert transport.sent == [] and transport.after_close == []
        sending.write(b"late")  # straight on, as it would go without the wrapper
        assert transport.after_close == [b"late"]

    _run(steps)


def test_everything_else_is_the_transports():
    async def steps(sending, transport):
        assert sending.get_extra_info("peername") == ("127.0.0.1", 5)
        assert not sending.is_closing()

    _run(steps)


def test_up_to_hold_bytes_are_held_and_writelines_is_one_write():
    async def steps(sending, transport):
        sending.write(b"h" * HOLD_BYTES)
        assert transport.sent == []
        sending.write(b"b" * (HOLD_BYTES + 1))  # joined onto the held bytes, never held itself
        assert transport.sent == [b"h" * HOLD_BYTES + b"b" * (HOLD_BYTES + 1)]
        sending.write(b"c" * (HOLD_BYTES + 1))
        assert transport.sent[-1] == b"c" * (HOLD_BYTES + 1)
        sending.writelines([b"head ", b"and body"])
        sending.write(b"!")
        assert transport.sent[-1] == b"head and body!"

    _run(steps)
