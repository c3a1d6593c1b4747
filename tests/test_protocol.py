"""The wire format: plain data in, plain data out, nothing else survives."""
import math
import socket

import pytest
import torch

from grader import protocol


def roundtrip(value):
    blobs = []
    data = protocol.encode(value, blobs)
    a, b = socket.socketpair()
    with a, b:
        protocol.send(a, {"v": data}, blobs)
        msg, got_blobs = protocol.recv(b)
    return protocol.decode(msg["v"], got_blobs)


@pytest.mark.parametrize("value", [None, True, 3, -2.5, "héllo", [1, [2, 3]], (1, "a"), {"k": 1, 2: [None]}])
def test_plain_values_round_trip(value):
    assert roundtrip(value) == value
    assert type(roundtrip(value)) is type(value)


def test_non_finite_floats_round_trip():
    out = roundtrip([math.inf, -math.inf, math.nan])
    assert out[0] == math.inf and out[1] == -math.inf and math.isnan(out[2])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64,
                                   torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool,
                                   torch.complex64, torch.complex128])
def test_tensors_round_trip_with_dtype_and_shape(dtype):
    t = (torch.arange(24).reshape(2, 3, 4) % 3).to(dtype)
    out = roundtrip(t)
    assert type(out) is torch.Tensor and out.dtype == dtype and torch.equal(out, t)


def test_conjugate_and_negative_views_arrive_as_the_values_they_show():
    z = torch.tensor([1 + 2j, 3 - 1j])
    assert torch.equal(roundtrip(z.conj()), torch.tensor([1 - 2j, 3 + 1j]))
    negative_view = z.conj().imag  # the imaginary part of a conjugate: a view with its sign bit set
    assert negative_view.is_neg() and torch.equal(roundtrip(negative_view), torch.tensor([-2.0, 1.0]))


def test_each_decoded_tensor_owns_its_memory_and_can_be_written():
    blobs = []
    data = protocol.encode(torch.arange(6.0).reshape(2, 3), blobs)
    first, second = protocol.decode(data, blobs), protocol.decode(data, blobs)
    first.add_(10)
    assert torch.equal(second, torch.arange(6.0).reshape(2, 3))
    assert bytes(blobs[0]) == torch.arange(6.0).numpy().tobytes()


def test_non_contiguous_and_empty_tensors():
    t = torch.arange(12.0).reshape(3, 4).t()
    assert torch.equal(roundtrip(t), t)
    assert roundtrip(torch.empty(0, 3)).shape == (0, 3)


def test_an_int_subclass_with_a_lying_eq_arrives_as_a_plain_int():
    class Liar(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    out = roundtrip(Liar(3))
    assert type(out) is int and out == 3 and out != 4


def test_a_str_subclass_arrives_as_a_plain_str():
    class Liar(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    out = roundtrip(Liar("abc"))
    assert type(out) is str and out == "abc" and out != "abd"


def test_a_tensor_subclass_arrives_as_a_plain_tensor():
    class Sneaky(torch.Tensor):
        def __eq__(self, other):
            return True

    t = torch.ones(2).as_subclass(Sneaky)
    out = roundtrip(t)
    assert type(out) is torch.Tensor and not torch.equal(out, torch.zeros(2))


def test_parameters_arrive_as_plain_tensors_without_grad():
    p = torch.nn.Parameter(torch.ones(3))
    out = roundtrip(p)
    assert type(out) is torch.Tensor and not out.requires_grad


def test_unencodable_objects_are_refused_without_a_ref_maker():
    with pytest.raises(protocol.Unencodable):
        protocol.encode(object(), [])


def test_objects_become_refs_when_a_ref_maker_is_given():
    data = protocol.encode([object()], [], make_ref=lambda o: protocol.Ref(7, "builtins.object"))
    assert protocol.decode(data, []) == [protocol.Ref(7, "builtins.object")]


def test_a_reference_to_an_attribute_of_an_object_keeps_its_path():
    ref = protocol.Ref(3, "builtins.type", ("nn", "Linear"))
    assert protocol.decode(protocol.encode(ref, []), []) == ref


@pytest.mark.parametrize("bad", [
    {"$t": "tensor", "dtype": "float32", "shape": [4], "blob": 0},     # 4 floats need 16 bytes
    {"$t": "tensor", "dtype": "object", "shape": [1], "blob": 0},      # unknown dtype
    {"$t": "tensor", "dtype": "float32", "shape": [-1], "blob": 0},
    {"$t": "pickle", "data": "gASV"},
    {"$t": "float", "v": "1e400"},
    {"$t": "dict", "items": [[[1], 2]]},                               # unhashable key
    {"$t": "ref", "id": 1, "type": "t", "path": "nn"},                 # a path is a list
    {"$t": "ref", "id": 1, "type": "t", "path": [1]},                  # of names
    {"$t": "ref", "id": 1, "type": "t", "path": ["a"] * 17},           # and not endless
])
def test_malformed_values_are_rejected(bad):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(bad, [b"\x00" * 4])


def test_deeply_nested_values_are_rejected():
    data = []
    for _ in range(protocol.MAX_DEPTH + 5):
        data = [data]
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(data, [])


def test_oversized_messages_are_refused_before_reading_them():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(protocol._HEAD.pack(protocol.MAX_HEADER_BYTES + 1, 0))
        with pytest.raises(protocol.ProtocolError):
            protocol.recv(b)


def test_a_message_arriving_in_small_pieces_is_put_back_together():
    """A big reply crosses the socket in many reads; tensors and header come back whole."""
    import threading

    big, small = torch.arange(300_000, dtype=torch.float64).reshape(600, 500), torch.tensor([1, 2, 3])
    blobs = []
    data = protocol.encode({"big": big, "small": small}, blobs)
    packed = protocol.pack({"v": data}, blobs)
    a, b = socket.socketpair()
    with a, b:
        sender = threading.Thread(target=lambda: [a.sendall(packed[i:i + 4097]) for i in range(0, len(packed), 4097)])
        sender.start()
        msg, got = protocol.recv(b)
        sender.join()
    value, again = protocol.decode(msg["v"], got), protocol.decode(msg["v"], got)
    assert torch.equal(value["big"], big) and torch.equal(value["small"], small)
    value["small"][0] = 7  # a received tensor is its own memory, not a view of the bytes received
    assert value["small"].tolist() == [7, 2, 3] and again["small"].tolist() == [1, 2, 3]


def test_a_peer_dripping_its_bytes_cannot_stretch_the_deadline():
    import threading
    import time

    blobs = []
    packed = protocol.pack({"v": protocol.encode(torch.zeros(1000), blobs)}, blobs)
    a, b = socket.socketpair()
    stop = threading.Event()

    def drip():
        for byte in packed:
            if stop.is_set():
                return
            a.sendall(bytes([byte]))
            time.sleep(0.01)

    with a, b:
        sender = threading.Thread(target=drip)
        sender.start()
        # Dripped whole, the message would take about 40 s and then arrive.
        with pytest.raises(socket.timeout):
            protocol.recv(b, deadline=time.monotonic() + 0.3)
        stop.set()
        sender.join()
