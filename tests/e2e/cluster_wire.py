# tests/e2e/cluster_wire.py: a tiny hand-written client and server side of the cluster protocol
# for the end-to-end tests that must send what a real peer never would (malformed, oversized or
# incompatible messages): websocket framing (RFC 6455) over TLS and protobuf wire encoding of the
# few portico.v1 messages needed, stdlib only.
import base64
import hashlib
import os
import socket
import ssl
import struct
import zlib

# ---- protobuf wire format ----


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, value):
    return varint(num << 3 | 0) + varint(value)


def parse(buf):
    """Decodes one message level into {field number: [values]} (bytes for length-delimited)."""
    out = {}
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(buf, i)
        elif wt == 2:
            n, i = _read_varint(buf, i)
            v = buf[i:i + n]
            i += n
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def _read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


# ClusterMessage oneof numbers
HELLO, HELLO_REPLY, SNAPSHOT, ACK, NACK, HEARTBEAT = 1, 2, 3, 4, 5, 6


def hello(node_id, version="0.1.0", hostname="fake", heartbeat_interval=None):
    body = field_bytes(1, node_id) + field_bytes(2, hostname) + field_bytes(3, version)
    if heartbeat_interval is not None:
        body += field_varint(7, heartbeat_interval)
    return field_bytes(HELLO, body)


def snapshot(config_bytes, revision, hash_hex=None, compress=True):
    """A ClusterMessage{snapshot} for serialised Config bytes."""
    h = hash_hex if hash_hex is not None else hashlib.sha256(config_bytes).hexdigest()
    data = zlib.compress(config_bytes) if compress else config_bytes
    body = (field_varint(1, revision) + field_bytes(2, h) + field_varint(3, 1 if compress else 0)
            + field_varint(4, len(config_bytes)) + field_bytes(5, data))
    return field_bytes(SNAPSHOT, body)


def open_snapshot(message):
    """Decodes a serialised ClusterMessage{snapshot} like a data plane: decompresses the Config,
    checks its size and SHA-256 against the snapshot's. Returns (revision, hash, config bytes);
    raises ValueError when the message is not a snapshot or does not check out."""
    top = parse(message)
    if SNAPSHOT not in top:
        raise ValueError("not a snapshot")
    f = parse(top[SNAPSHOT][0])
    revision = f.get(1, [0])[0]
    h = bytes(f.get(2, [b""])[0]).decode()
    data = bytes(f.get(5, [b""])[0])
    config = zlib.decompress(data) if f.get(3, [0])[0] == 1 else data
    if 4 in f and f[4][0] != len(config):
        raise ValueError("uncompressed size %d, snapshot says %d" % (len(config), f[4][0]))
    if hashlib.sha256(config).hexdigest() != h:
        raise ValueError("hash mismatch at revision %d" % revision)
    return revision, h, config


def ack(revision, hash_hex, apply_micros=0):
    body = field_varint(1, revision) + field_bytes(2, hash_hex) + field_varint(3, apply_micros)
    return field_bytes(ACK, body)


def hello_reply(accepted=True, reason=""):
    body = field_varint(1, 1 if accepted else 0) + field_bytes(2, reason) + \
        field_bytes(3, "fake-cp") + field_bytes(4, "0.1.0")
    return field_bytes(HELLO_REPLY, body)


def service_config(service_id, host="example.com"):
    """Serialised Config with one service."""
    svc = field_bytes(1, service_id) + field_bytes(7, host) + field_varint(8, 80)
    return field_bytes(1, svc)


# ---- websocket framing ----


def frame(payload, opcode=2, fin=True, mask=True):
    hdr = bytearray([(0x80 if fin else 0) | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr.append(mbit | n)
    elif n < 65536:
        hdr.append(mbit | 126)
        hdr += struct.pack("!H", n)
    else:
        hdr.append(mbit | 127)
        hdr += struct.pack("!Q", n)
    if not mask:
        return bytes(hdr) + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes(hdr) + key + masked


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def read_message(sock):
    """Returns (opcode, payload) of the next complete message (control frames included)."""
    data = b""
    opcode = None
    while True:
        b0, b1 = _recv_exact(sock, 2)
        op = b0 & 0x0F
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", _recv_exact(sock, 2))[0]
        elif n == 127:
            n = struct.unpack("!Q", _recv_exact(sock, 8))[0]
        key = _recv_exact(sock, 4) if b1 & 0x80 else None
        p = _recv_exact(sock, n)
        if key:
            p = bytes(x ^ key[i % 4] for i, x in enumerate(p))
        if op >= 8:
            return op, p
        if op != 0:
            opcode = op
        data += p
        if b0 & 0x80:
            return opcode, data


class Client:
    """A fake data plane: TLS with a client certificate, websocket upgrade on /v1/cluster."""

    def __init__(self, port, cert, key, ca, server_name="portico_clustering", host="127.0.0.1",
                 timeout=10):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        ctx.load_cert_chain(cert, key)
        ctx.check_hostname = False
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname=server_name)
        k = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /v1/cluster HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Protocol: portico.cluster.v1\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (server_name, k)).encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            c = self.sock.recv(1)
            if not c:
                raise ConnectionError("closed during upgrade")
            resp += c
        if not resp.startswith(b"HTTP/1.1 101"):
            raise ConnectionError("upgrade refused: %r" % resp[:100])

    def send(self, payload, fragments=1):
        if fragments == 1:
            self.sock.sendall(frame(payload))
            return
        size = max(1, len(payload) // fragments)
        parts = [payload[i:i + size] for i in range(0, len(payload), size)]
        for i, p in enumerate(parts):
            self.sock.sendall(frame(p, opcode=2 if i == 0 else 0, fin=i == len(parts) - 1))

    def recv(self):
        return read_message(self.sock)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Server:
    """A fake control plane: TLS with the cluster certificate, requiring a client certificate,
    accepting one websocket connection at a time (accept() returns a connected peer)."""

    def __init__(self, cert, key, ca):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.load_verify_locations(ca)
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lsock.settimeout(20)
        self.port = self.lsock.getsockname()[1]

    def accept(self):
        raw, _ = self.lsock.accept()
        raw.settimeout(20)
        s = self.ctx.wrap_socket(raw, server_side=True)
        req = b""
        while b"\r\n\r\n" not in req:
            c = s.recv(1)
            if not c:
                raise ConnectionError("closed during upgrade")
            req += c
        key = [ln.split(b":", 1)[1].strip() for ln in req.split(b"\r\n")
               if ln.lower().startswith(b"sec-websocket-key:")][0]
        acc = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                               .digest())
        s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc +
                  b"\r\nSec-WebSocket-Protocol: portico.cluster.v1\r\n\r\n")
        return Peer(s)

    def close(self):
        self.lsock.close()


class Peer:
    def __init__(self, sock):
        self.sock = sock

    def send(self, payload):
        self.sock.sendall(frame(payload, mask=False))

    def recv(self):
        return read_message(self.sock)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
