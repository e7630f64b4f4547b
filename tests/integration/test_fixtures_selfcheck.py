#!/usr/bin/env python3
"""Self-check of the Python fixture servers (tests/fixtures/httpfix.py and dnsfix.py).

Starts both on loopback (127.0.0.1 and ::1, free ports) and checks every behaviour they
promise with raw sockets and hand-built DNS messages, so that a broken fixture is caught here
and not mistaken for a validator bug elsewhere. Standard library only, no outside services.
Prints one line per failure, then "N passed, N failed"; exits 1 on any failure. Every wait is
short and bounded; the whole run takes well under 30 s.
"""

import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")
HTTPFIX = os.path.join(FIXTURES, "httpfix.py")
DNSFIX = os.path.join(FIXTURES, "dnsfix.py")

SUFFIX = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
HTTPS_PORT = 5443
PREFIX = "/.well-known/acme-challenge/"
WATCHDOG_S = 28.0


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.lock = threading.Lock()

    def check(self, name, cond, detail=""):
        with self.lock:
            if cond:
                self.passed += 1
            else:
                self.failed += 1
                print("FAIL: %s%s" % (name, (": " + detail) if detail else ""), flush=True)
        return bool(cond)

    def eq(self, name, got, want):
        return self.check(name, got == want, "got %r, want %r" % (short(got), short(want)))

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 1 if self.failed else 0


R = Results()
PROCS = []


def short(v, cap=200):
    s = repr(v)
    return s if len(s) <= cap else s[:cap] + "..."


def ka(token):
    return (token + "." + SUFFIX).encode()


def start_fixture(script, args, stderr_path):
    """Starts a fixture, waits for its READY line. Returns (process, port)."""
    err = open(stderr_path, "wb")
    p = subprocess.Popen([sys.executable, script] + args, stdout=subprocess.PIPE, stderr=err)
    err.close()
    PROCS.append(p)
    ready, _, _ = select.select([p.stdout], [], [], 10.0)
    line = p.stdout.readline().decode() if ready else ""
    if not line.startswith("READY "):
        raise RuntimeError("%s did not report READY (got %r)" % (os.path.basename(script), line))
    return p, int(line.split()[1])


def stop_fixture(name, p, sig=signal.SIGTERM):
    p.send_signal(sig)
    try:
        rc = p.wait(5.0)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    R.eq("%s exits 0 on %s" % (name, signal.Signals(sig).name), rc, 0)


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# HTTP


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def connect(port, addr="127.0.0.1", timeout=3.0):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((addr, port))
    return s


def request_bytes(path, host="example.test", method="GET", extra=()):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host,
             "User-Agent: acmeva-selfcheck/1", "Accept: */*", "Connection: close"]
    lines += ["%s: %s" % kv for kv in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def exchange(port, raw, addr="127.0.0.1", timeout=3.0, limit=None):
    """Sends raw bytes and reads until EOF. Returns (data, end) with end in eof/reset/timeout/limit."""
    s = connect(port, addr, timeout)
    try:
        s.sendall(raw)
        data = b""
        while True:
            try:
                chunk = s.recv(1 << 20)
            except socket.timeout:
                return data, "timeout"
            except ConnectionResetError:
                return data, "reset"
            if not chunk:
                return data, "eof"
            data += chunk
            if limit is not None and len(data) >= limit:
                return data, "limit"
    finally:
        s.close()


def parse_response(data):
    """Returns (status, headers as [(name, value)], body bytes) or (None, [], data)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None, [], data
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        return None, [], data
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return int(parts[1]), headers, body


def hget(headers, name):
    vals = [v for k, v in headers if k.lower() == name.lower()]
    return vals[0] if vals else None


def fetch(port, path, host="example.test", addr="127.0.0.1", timeout=3.0):
    data, end = exchange(port, request_bytes(path, host), addr, timeout)
    status, headers, body = parse_response(data)
    return status, headers, body, end


def dechunk(body):
    """Decodes a chunked body. Returns (list of chunks, rest after the last chunk) or (None, why)."""
    chunks, off = [], 0
    while True:
        eol = body.find(b"\r\n", off)
        if eol < 0:
            return None, "no chunk size line"
        try:
            n = int(body[off:eol], 16)
        except ValueError:
            return None, "bad chunk size %r" % body[off:eol]
        off = eol + 2
        if n == 0:
            return chunks, body[off:]
        if body[off + n:off + n + 2] != b"\r\n":
            return None, "chunk not followed by CRLF"
        chunks.append(body[off:off + n])
        off += n + 2


def huge_bytes_sent(log_path, token):
    """The body byte count httpfix logged for a huge request, or -1 before it logged one."""
    for line in read_text(log_path).splitlines():
        if token in line and " body bytes sent" in line:
            return int(line.rsplit(" body bytes sent", 1)[0].rsplit(" ", 1)[1])
    return -1


def check_ok_response(name, port, token, addr="127.0.0.1"):
    status, headers, body, end = fetch(port, PREFIX + token, addr=addr)
    R.eq(name + ": status", status, 200)
    R.eq(name + ": body", body, ka(token))
    R.eq(name + ": Content-Length", hget(headers, "Content-Length"), str(len(ka(token))))
    R.eq(name + ": Connection", hget(headers, "Connection"), "close")
    R.eq(name + ": closed after the body", end, "eof")


def check_redirect(name, port, token, status_want, location_want, final_token=None, host="example.test"):
    status, headers, body, _ = fetch(port, PREFIX + token, host=host)
    R.eq(name + ": status", status, status_want)
    loc = hget(headers, "Location")
    R.eq(name + ": Location", loc, location_want)
    if final_token is not None and loc is not None:
        # Follow it by hand: the target serves the key authorization of the original token.
        path = loc if loc.startswith("/") else "/" + loc.split("/", 3)[3]
        s2, _, b2, _ = fetch(port, path, host=host)
        R.eq(name + ": target status", s2, 200)
        R.eq(name + ": target serves the original token's key authorization", b2, ka(final_token))


def http_checks(port, log_path):
    rest = "selfcheck0123456789"

    check_ok_response("ok", port, "ok_" + rest)
    check_ok_response("ok over ::1 on the same port", port, "ok_v6" + rest, addr="::1")

    status, headers, body, _ = fetch(port, PREFIX + "oknl_" + rest)
    R.eq("oknl: status", status, 200)
    R.eq("oknl: body has trailing whitespace", body, ka("oknl_" + rest) + b"\r\n \t\n")
    R.eq("oknl: Content-Length", hget(headers, "Content-Length"), str(len(body)))

    status, headers, body, end = fetch(port, PREFIX + "okchunked_" + rest)
    R.eq("okchunked: status", status, 200)
    R.eq("okchunked: Transfer-Encoding", hget(headers, "Transfer-Encoding"), "chunked")
    R.eq("okchunked: no Content-Length", hget(headers, "Content-Length"), None)
    chunks, tail = dechunk(body)
    if R.check("okchunked: chunked framing", chunks is not None, str(tail)):
        R.eq("okchunked: 3 chunks", len(chunks), 3)
        R.eq("okchunked: chunks join to the key authorization", b"".join(chunks), ka("okchunked_" + rest))
        R.eq("okchunked: ends after the last chunk", tail, b"\r\n")

    status, headers, body, end = fetch(port, PREFIX + "okclose_" + rest)
    R.eq("okclose: status", status, 200)
    R.eq("okclose: no Content-Length", hget(headers, "Content-Length"), None)
    R.eq("okclose: no Transfer-Encoding", hget(headers, "Transfer-Encoding"), None)
    R.eq("okclose: body until close", body, ka("okclose_" + rest))
    R.eq("okclose: closed", end, "eof")

    status, _, body, _ = fetch(port, PREFIX + "wrong_" + rest)
    R.eq("wrong: status", status, 200)
    R.eq("wrong: body", body, b"wrong-key-authorization")
    R.eq("notfound: status", fetch(port, PREFIX + "notfound_" + rest)[0], 404)
    R.eq("servererror: status", fetch(port, PREFIX + "servererror_" + rest)[0], 500)
    status, headers, body, _ = fetch(port, PREFIX + "html_" + rest)
    R.eq("html: status", status, 200)
    R.eq("html: Content-Type", hget(headers, "Content-Type"), "text/html")
    R.check("html: an HTML page over 128 bytes", body.startswith(b"<!DOCTYPE html>") and
            len(body) > 128, short(body))
    status, headers, body, _ = fetch(port, PREFIX + "html404_" + rest)
    R.eq("html404: status", status, 404)
    R.check("html404: an HTML error page", body.startswith(b"<!DOCTYPE html>") and
            b"Not Found" in body, short(body))
    status, _, body, _ = fetch(port, PREFIX + "kaextra_" + rest)
    R.eq("kaextra: status", status, 200)
    R.eq("kaextra: the key authorization and more", body,
         ka("kaextra_" + rest) + b"\n<!-- served by a proxy -->")
    R.eq("unknown case: 404", fetch(port, PREFIX + "nosuchcase_" + rest)[0], 404)
    R.eq("bare case name without rest: 404", fetch(port, PREFIX + "ok")[0], 404)
    R.eq("token outside base64url: 404", fetch(port, PREFIX + "ok_a%2Fb")[0], 404)
    R.eq("path outside the challenge directory: 404", fetch(port, "/ok_" + rest)[0], 404)

    # Redirects.
    t = "see_other_" + rest
    check_redirect("see_other", port, t, 303, PREFIX + "ok_" + rest, t)
    for code in (301, 302, 307, 308):
        t = "r%d_x%d%s" % (code, code, rest)
        check_redirect("r%d" % code, port, t, code, PREFIX + "ok_x%d%s" % (code, rest), t)
    t = "rabs_" + rest
    check_redirect("rabs", port, t, 302, "http://name.test:%d%sok_%s" % (port, PREFIX, rest), t,
                   host="name.test")
    check_redirect("rabs keeps an IPv6 literal host", port, "rabs_v6" + rest, 302,
                   "http://[::1]:%d%sok_v6%s" % (port, PREFIX, rest), host="[::1]:%d" % port)
    check_redirect("rabs drops the Host port", port, "rabs_p" + rest, 302,
                   "http://name.test:%d%sok_p%s" % (port, PREFIX, rest), host="name.test:%d" % port)
    check_redirect("loop", port, "loop_" + rest, 302, PREFIX + "loop_" + rest)
    check_redirect("rhttps", port, "rhttps_" + rest, 302,
                   "https://name.test:%d%sok_%s" % (HTTPS_PORT, PREFIX, rest), host="name.test")
    check_redirect("rbadport", port, "rbadport_" + rest, 302,
                   "http://name.test:8080%sok_%s" % (PREFIX, rest), host="name.test")
    check_redirect("rftp", port, "rftp_" + rest, 302, "ftp://name.test%sok_%s" % (PREFIX, rest),
                   host="name.test")
    status, headers, _, _ = fetch(port, PREFIX + "rlong_" + rest)
    loc = hget(headers, "Location") or ""
    R.eq("rlong: status", status, 302)
    R.eq("rlong: Location path is 2100 bytes", len(loc), 2100)
    R.check("rlong: Location is a path under the ok target", loc.startswith(PREFIX + "ok_" + rest + "/"), loc[:80])

    # chain5 -> chain4 -> ... -> chain0, which serves the key authorization of chain5.
    token = "chain5_" + rest
    path, hops = PREFIX + token, 0
    for n in range(4, -1, -1):
        status, headers, _, _ = fetch(port, path)
        R.eq("chain hop %d: status" % hops, status, 302)
        want = "%schain%d_%s" % (PREFIX, n, rest)
        R.eq("chain hop %d: Location" % hops, hget(headers, "Location"), want)
        path, hops = want, hops + 1
    status, _, body, _ = fetch(port, path)
    R.eq("chain0: status", status, 200)
    R.eq("chain0: serves chain5's key authorization", body, ka(token))
    check_redirect("chain20", port, "chain20_" + rest, 302, PREFIX + "chain19_" + rest)
    R.eq("chain21: 404", fetch(port, PREFIX + "chain21_" + rest)[0], 404)

    # Sizes.
    for n in (128, 127):
        status, headers, body, _ = fetch(port, PREFIX + "big%d_%s" % (n, rest))
        R.eq("big%d: status" % n, status, 200)
        R.eq("big%d: body" % n, body, b"a" * n)
        R.eq("big%d: Content-Length" % n, hget(headers, "Content-Length"), str(n))
    data, _ = exchange(port, request_bytes(PREFIX + "hugeheaders_" + rest))
    status, headers, body = parse_response(data)
    head_len = data.find(b"\r\n\r\n") + 4
    R.eq("hugeheaders: status", status, 200)
    R.check("hugeheaders: header section of at least 100 KB", head_len >= 100 * 1000, str(head_len))
    R.eq("hugeheaders: X-Pad headers", sum(1 for k, _ in headers if k.startswith("X-Pad-")), 100)
    R.eq("hugeheaders: body", body, ka("hugeheaders_" + rest))

    data, end = exchange(port, request_bytes(PREFIX + "huge_" + rest), timeout=10.0)
    status, headers, body = parse_response(data)
    R.eq("huge: status", status, 200)
    R.eq("huge: Content-Length", hget(headers, "Content-Length"), str(10 * 1024 * 1024))
    R.eq("huge: streams the whole body", len(body), 10 * 1024 * 1024)
    # A client that stops reading must not block anyone else, and leaving ends the stream.
    s = connect(port)
    s.sendall(request_bytes(PREFIX + "huge_stall" + rest))
    got = s.recv(65536)
    R.check("huge (stalled): first bytes arrive", got.startswith(b"HTTP/1.1 200"), short(got[:40]))
    t0 = time.monotonic()
    check_ok_response("ok while a huge response is stalled", port, "ok_during" + rest)
    R.check("ok while a huge response is stalled: prompt", time.monotonic() - t0 < 2.0)
    s.close()
    R.check("huge (stalled): server stops early when the client leaves",
            wait_for(lambda: 0 <= huge_bytes_sent(log_path, "huge_stall" + rest) < 10 * 1024 * 1024, 3.0))

    # Timing cases, each bounded to a few seconds.
    s = connect(port, timeout=1.5)
    s.sendall(request_bytes(PREFIX + "slowbyte_" + rest))
    try:
        first = s.recv(100)
    except socket.timeout:
        first = b""
    t0, got = time.monotonic(), first
    s.settimeout(0.2)
    while time.monotonic() - t0 < 2.5:
        try:
            chunk = s.recv(100)
        except socket.timeout:
            continue
        if not chunk:
            break
        got += chunk
    s.close()
    R.eq("slowbyte: first byte at once, alone", first, b"H")
    R.check("slowbyte: one byte per second (3 bytes in 2.5 s)", got in (b"HT", b"HTT", b"HTTP"), short(got))

    s = connect(port, timeout=1.0)
    s.sendall(request_bytes(PREFIX + "silent_" + rest))
    try:
        got = s.recv(100)
        silent = "answered %r" % got if got else "closed"
    except socket.timeout:
        silent = "silent"
    R.eq("silent: no answer and still open after 1 s", silent, "silent")
    s.close()
    R.check("silent: server notices the client left",
            wait_for(lambda: "silent_%s host=example.test ua=acmeva-selfcheck/1 case=silent -> silent until the client left" % rest
                     in read_text(log_path), 2.0))

    t0 = time.monotonic()
    data, end = exchange(port, request_bytes(PREFIX + "http2_" + rest), timeout=3.0)
    elapsed = time.monotonic() - t0
    R.eq("http2: SETTINGS frame header", data[:9], bytes.fromhex("000012040000000000"))
    R.eq("http2: frame with 18 payload bytes and nothing else", len(data), 27)
    R.eq("http2: closes", end, "eof")
    R.check("http2: closes about a second later", 0.8 <= elapsed <= 2.5, "%.2f s" % elapsed)

    data, end = exchange(port, request_bytes(PREFIX + "reset_" + rest))
    R.eq("reset: connection reset", (data, end), (b"", "reset"))
    data, end = exchange(port, request_bytes(PREFIX + "empty_" + rest))
    R.eq("empty: closed without a byte", (data, end), (b"", "eof"))
    data, end = exchange(port, request_bytes(PREFIX + "garbage_" + rest))
    R.eq("garbage: answer", (data, end), (b"HELLO\r\n\r\n", "eof"))

    # Malformed requests get 400 / 431, and the server carries on.
    data, _ = exchange(port, b"NONSENSE\r\n\r\n")
    R.eq("bad request line: 400", parse_response(data)[0], 400)
    data, _ = exchange(port, b"GET /x HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n")
    R.eq("request head over 64 KB: 431", parse_response(data)[0], 431)
    rnd = random.Random(8555)
    for _ in range(40):
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 300)))
        exchange(port, junk + b"\r\n\r\n", timeout=1.0)
    check_ok_response("ok after random requests", port, "ok_afterjunk" + rest)
    R.check("no internal error logged", "internal error" not in read_text(log_path))

    # History: what the client sent, who sent it; /_reset clears it.
    data, _ = exchange(port, request_bytes("/_reset", method="POST"))
    R.eq("POST /_reset: 200", parse_response(data)[0], 200)
    s = connect(port, "::1")
    s.sendall(b"GET " + PREFIX.encode() + b"ok_hist" + rest.encode() + b"?q=1 HTTP/1.1\r\nHost: hist.test\r\n"
              b"User-Agent: probe/2\r\nAccept: text/plain\r\nConnection: keep-alive\r\n\r\n")
    peer_port = s.getsockname()[1]
    while s.recv(4096):
        pass
    s.close()
    status, _, body, _ = fetch(port, "/_history")
    R.eq("GET /_history: 200", status, 200)
    try:
        hist = json.loads(body)
    except ValueError:
        hist = None
    if R.check("history: one entry (control requests not recorded)", isinstance(hist, list) and len(hist) == 1,
               short(hist)):
        h = hist[0]
        for key, want in (("method", "GET"), ("path", PREFIX + "ok_hist" + rest + "?q=1"), ("host", "hist.test"),
                          ("user_agent", "probe/2"), ("accept", "text/plain"), ("connection", "keep-alive"),
                          ("peer", "::1"), ("peer_port", peer_port), ("local_port", port), ("case", "ok"),
                          ("version", "HTTP/1.1")):
            R.eq("history: " + key, h.get(key), want)
    exchange(port, request_bytes("/_reset", method="POST"))
    status, _, body, _ = fetch(port, "/_history")
    R.eq("history after /_reset: empty", body, b"[]")
    R.eq("GET /_reset: 405", fetch(port, "/_reset")[0], 405)

    R.check("log: one line per request", wait_for(lambda: "case=okchunked -> 200 chunked" in read_text(log_path)
                                                  and "GET /_history" in read_text(log_path), 2.0))


def stats(port):
    status, _, body, _ = fetch(port, "/_stats")
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def hold_checks(port):
    """An instance with --hold-ms 300 --redirect-host [::1]: the hold and rhost cases and the
    per-address counts of /_stats."""
    rest = "holdcheck0123456789"
    check_redirect("rhost", port, "rhost_" + rest, 302,
                   "http://[::1]:%d%sok_%s" % (port, PREFIX, rest), "rhost_" + rest)
    exchange(port, request_bytes("/_reset", method="POST"))
    # Three held at once, then one client leaves early: its close is noticed at the next
    # accept, so the most open at once stays 3 and is counted exactly.
    socks = []
    for i in range(3):
        s = connect(port)
        s.sendall(request_bytes(PREFIX + "hold_%d%s" % (i, rest)))
        socks.append(s)
    time.sleep(0.1)
    socks[0].close()
    start = time.monotonic()
    status, _, body, _ = fetch(port, PREFIX + "hold_late" + rest, timeout=5.0)
    R.eq("hold: status", status, 200)
    R.eq("hold: body", body, ka("hold_late" + rest))
    R.check("hold: held about --hold-ms", 0.25 <= time.monotonic() - start < 3.0,
            "%.2f s" % (time.monotonic() - start))
    for s in socks[1:]:
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        R.check("hold: the others are answered too", data.startswith(b"HTTP/1.1 200"), short(data))
    status, st = stats(port)
    R.eq("GET /_stats: 200", status, 200)
    if R.check("stats: JSON", isinstance(st, dict), short(st)):
        R.eq("stats: accepts on 127.0.0.1 (this request included)", st["accepts"].get("127.0.0.1"), 5)
        R.eq("stats: most open at once", st["max_open"].get("127.0.0.1"), 3)
        R.eq("stats: nothing on ::1", st["accepts"].get("::1", 0), 0)
    exchange(port, request_bytes("/_reset", method="POST"))
    status, st = stats(port)
    R.eq("stats after /_reset: only this request", (st or {}).get("accepts"), {"127.0.0.1": 1})


# ---------------------------------------------------------------------------------------------
# DNS

T_A, T_CNAME, T_SOA, T_TXT, T_AAAA, T_OPT, T_CAA = 1, 5, 6, 16, 28, 41, 257


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def dns_query(qid, name, qtype, rd=True, edns=None, do=False, version=0, opcode=0, qclass=1, qr=False):
    flags = (0x8000 if qr else 0) | (opcode << 11) | (0x0100 if rd else 0)
    msg = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0)
    msg += encode_name(name) + struct.pack("!HH", qtype, qclass)
    if edns:
        msg += b"\x00" + struct.pack("!HHIH", T_OPT, edns, (version << 16) | (0x8000 if do else 0), 0)
    return msg


def read_name(msg, off):
    labels, end, hops = [], None, 0
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            hops += 1
            if hops > 20:
                raise ValueError("pointer loop")
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            continue
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode("latin-1"))
        off += n
    return ".".join(labels), (end if end is not None else off)


class Answer:
    """A parsed DNS response."""

    def __init__(self, msg):
        self.raw = msg
        self.id, self.flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
        self.rcode = self.flags & 0xF
        off = 12
        self.question = []
        for _ in range(qd):
            name, off = read_name(msg, off)
            self.question.append((name,) + struct.unpack("!HH", msg[off:off + 4]))
            off += 4
        self.sections = []
        for count in (an, ns, ar):
            recs = []
            for _ in range(count):
                name, off = read_name(msg, off)
                rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
                off += 10
                recs.append((name, rtype, rclass, ttl, msg[off:off + rdlen], off))
                off += rdlen
            self.sections.append(recs)
        self.answer, self.authority, self.additional = self.sections
        if off != len(msg):
            raise ValueError("trailing bytes")

    def bit(self, mask):
        return bool(self.flags & mask)

    def txt(self):
        out = []
        for _, rtype, _, _, rd, _ in self.answer:
            if rtype == T_TXT:
                strings, i = [], 0
                while i < len(rd):
                    strings.append(rd[i + 1:i + 1 + rd[i]].decode())
                    i += 1 + rd[i]
                out.append(strings)
        return out

    def types(self, section=None):
        return [r[1] for r in (self.answer if section is None else section)]


QR, AA, TC, RD, RA, AD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020, 0x0010


def udp(port, msg, addr="127.0.0.1", timeout=1.0):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(msg, (addr, port))
        data, _ = s.recvfrom(65535)
        return data
    except socket.timeout:
        return None
    finally:
        s.close()


def tcp(port, msg, addr="127.0.0.1", timeout=1.0):
    s = connect(port, addr, timeout)
    try:
        s.sendall(struct.pack("!H", len(msg)) + msg)
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
            chunk = s.recv(65535)
            if not chunk:
                return None
            data += chunk
        return data[2:2 + struct.unpack("!H", data[:2])[0]]
    except socket.timeout:
        return None
    finally:
        s.close()


def tcp_pipelined(port, msgs, timeout=2.0):
    """Sends several queries on one TCP connection at once. Returns the answers read, in order."""
    s = connect(port, timeout=timeout)
    s.sendall(b"".join(struct.pack("!H", len(m)) + m for m in msgs))
    data, answers = b"", []
    try:
        while len(answers) < len(msgs):
            chunk = s.recv(65535)
            if not chunk:
                break
            data += chunk
            while len(data) >= 2 and len(data) >= 2 + struct.unpack("!H", data[:2])[0]:
                n = struct.unpack("!H", data[:2])[0]
                answers.append(data[2:2 + n])
                data = data[2 + n:]
    except socket.timeout:
        pass
    finally:
        s.close()
    return answers


def ask(name, port, transport, qname, qtype, **kw):
    """Sends a query; returns the parsed Answer or None (after recording a failure)."""
    qid = kw.pop("qid", 0x1234)
    addr = kw.pop("addr", "127.0.0.1")
    q = dns_query(qid, qname, qtype, **kw)
    data = (udp if transport == "udp" else tcp)(port, q, addr)
    if not R.check("%s/%s: answered" % (name, transport), data is not None):
        return None
    try:
        a = Answer(data)
    except (ValueError, IndexError, struct.error) as e:
        R.check("%s/%s: parses" % (name, transport), False, str(e))
        return None
    R.eq("%s/%s: id echoed" % (name, transport), a.id, qid)
    R.check("%s/%s: QR AA RA set" % (name, transport), a.bit(QR) and a.bit(AA) and a.bit(RA), hex(a.flags))
    R.eq("%s/%s: RD copied" % (name, transport), a.bit(RD), kw.get("rd", True))
    R.eq("%s/%s: question echoed" % (name, transport), a.question, [(qname, qtype, kw.get("qclass", 1))])
    return a


def read_stats(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def stat_count(path, name, qtype, transport):
    for q in read_stats(path).get("queries", []):
        if (q.get("name"), q.get("type"), q.get("transport")) == (name, qtype, transport):
            return q.get("count")
    return 0


ZONE = {
    "records": [
        {"name": "txt.test", "type": "TXT", "strings": ["hello", "world"]},
        {"name": "txt.test", "type": "TXT", "value": "second"},
        {"name": "caa.test", "type": "CAA", "flags": 128, "tag": "issue", "value": "ca.example"},
        {"name": "caa.test", "type": "CAA", "flags": 0, "tag": "iodef", "value": "mailto:x@caa.test"},
        {"name": "addr.test", "type": "A", "value": "127.0.0.1"},
        {"name": "addr.test", "type": "AAAA", "value": "::1"},
        {"name": "Mixed.Test.", "type": "A", "value": "127.0.0.2"},
        {"name": "alias.test", "type": "CNAME", "value": "alias2.test"},
        {"name": "alias2.test", "type": "CNAME", "value": "txt.test"},
        {"name": "loop1.test", "type": "CNAME", "value": "loop2.test"},
        {"name": "loop2.test", "type": "CNAME", "value": "loop1.test"},
        {"name": "tonx.test", "type": "CNAME", "value": "nx.test"},
        {"name": "trunc.test", "type": "TXT", "strings": ["full answer"]},
        {"name": "secure.test", "type": "TXT", "strings": ["signed"]},
        {"name": "raw.test", "type": "TYPE65280", "rdata_hex": "c0ffee", "ttl": 5},
        {"name": "many.test", "type": "TXT", "strings": ["the real one"]},
        {"name": "hop10.test", "type": "TXT", "strings": ["end of the chain"]},
        {"name": "mid.test", "type": "TXT", "strings": ["m" * 200] * 4},
        {"name": "big.test", "type": "TXT", "strings": ["b" * 220] * 6},
    ],
    "nxdomain": ["nx.test"], "refused": ["refused.test"], "servfail": ["servfail.test"],
    "truncate": ["trunc.test"], "ad": ["secure.test"], "drop": ["drop.test", "dropv6.test"],
    "many": {"many.test": 150},
}
ZONE["records"] += [{"name": "hop%d.test" % i, "type": "CNAME", "value": "hop%d.test" % (i + 1)} for i in range(1, 10)]


def dns_checks(port, proc, zone_path, stats_path, log_path):
    for tr in ("udp", "tcp"):
        a = ask("TXT", port, tr, "txt.test", T_TXT)
        if a:
            R.eq("TXT/%s: rcode" % tr, a.rcode, 0)
            R.eq("TXT/%s: records" % tr, a.txt(), [["hello", "world"], ["second"]])
            R.eq("TXT/%s: no AD" % tr, a.bit(AD), False)
            R.eq("TXT/%s: no OPT without EDNS" % tr, a.additional, [])
            R.eq("TXT/%s: TTL" % tr, a.answer[0][3], 60)
        a = ask("TXT mixed case, RD clear", port, tr, "TxT.TeSt", T_TXT, rd=False)
        if a:
            R.eq("TXT mixed case/%s: records" % tr, len(a.txt()), 2)
        a = ask("CAA", port, tr, "caa.test", T_CAA)
        if a:
            R.eq("CAA/%s: rdata" % tr, [r[4] for r in a.answer],
                 [b"\x80\x05issueca.example", b"\x00\x05iodefmailto:x@caa.test"])
        a = ask("A", port, tr, "addr.test", T_A)
        if a:
            R.eq("A/%s: rdata" % tr, [r[4] for r in a.answer], [bytes([127, 0, 0, 1])])
        a = ask("AAAA", port, tr, "addr.test", T_AAAA)
        if a:
            R.eq("AAAA/%s: rdata" % tr, [r[4] for r in a.answer], [b"\x00" * 15 + b"\x01"])
        a = ask("zone name case-insensitive", port, tr, "MIXED.test", T_A)
        if a:
            R.eq("zone name case-insensitive/%s: rdata" % tr, [r[4] for r in a.answer], [bytes([127, 0, 0, 2])])
        a = ask("CNAME chain", port, tr, "alias.test", T_TXT)
        if a:
            R.eq("CNAME chain/%s: types" % tr, a.types(), [T_CNAME, T_CNAME, T_TXT, T_TXT])
            R.eq("CNAME chain/%s: owners" % tr, [r[0] for r in a.answer],
                 ["alias.test", "alias2.test", "txt.test", "txt.test"])
            R.eq("CNAME chain/%s: targets" % tr, [read_name(a.raw, r[5])[0] for r in a.answer[:2]],
                 ["alias2.test", "txt.test"])
        a = ask("8 CNAME hops", port, tr, "hop2.test", T_TXT)
        if a:
            R.eq("8 CNAME hops/%s: followed to the end" % tr, a.types(), [T_CNAME] * 8 + [T_TXT])
        a = ask("9 CNAME hops", port, tr, "hop1.test", T_TXT)
        if a:
            R.eq("9 CNAME hops/%s: stops after 8" % tr, (a.rcode, a.types()), (0, [T_CNAME] * 8))
        a = ask("CNAME asked for", port, tr, "alias.test", T_CNAME)
        if a:
            R.eq("CNAME asked for/%s: only the CNAME" % tr, a.types(), [T_CNAME])
        a = ask("CNAME loop", port, tr, "loop1.test", T_TXT)
        if a:
            R.check("CNAME loop/%s: bounded, NOERROR" % tr, a.rcode == 0 and 1 <= len(a.answer) <= 9,
                    "rcode %d, %d answers" % (a.rcode, len(a.answer)))
        a = ask("CNAME to NXDOMAIN", port, tr, "tonx.test", T_A)
        if a:
            R.eq("CNAME to NXDOMAIN/%s: rcode" % tr, a.rcode, 3)
            R.eq("CNAME to NXDOMAIN/%s: CNAME kept" % tr, a.types(), [T_CNAME])
        for qname, rcode in (("nx.test", 3), ("refused.test", 5), ("servfail.test", 2)):
            a = ask(qname, port, tr, qname, T_TXT)
            if a:
                R.eq("%s/%s: rcode" % (qname, tr), a.rcode, rcode)
                R.eq("%s/%s: no answers" % (qname, tr), a.answer, [])
        a = ask("NXDOMAIN SOA", port, tr, "nx.test", T_A)
        if a:
            R.eq("NXDOMAIN/%s: SOA in authority, owned by the TLD" % tr,
                 [(r[0], r[1]) for r in a.authority], [("test", T_SOA)])
        for qname, qtype in (("txt.test", T_A), ("unknown.test", T_TXT), ("txt.test", 65280)):
            a = ask("NODATA %s %d" % (qname, qtype), port, tr, qname, qtype)
            if a:
                R.eq("NODATA %s %d/%s: rcode" % (qname, qtype, tr), a.rcode, 0)
                R.eq("NODATA %s %d/%s: no answers" % (qname, qtype, tr), a.answer, [])
                R.eq("NODATA %s %d/%s: SOA" % (qname, qtype, tr), [(r[0], r[1]) for r in a.authority],
                     [("test", T_SOA)])
        a = ask("any type", port, tr, "raw.test", 65280)
        if a:
            R.eq("any type/%s: rdata and TTL" % tr, [(r[1], r[3], r[4]) for r in a.answer],
                 [(65280, 5, b"\xc0\xff\xee")])
        a = ask("AD bit", port, tr, "secure.test", T_TXT)
        if a:
            R.eq("AD bit/%s: set" % tr, a.bit(AD), True)
            R.eq("AD bit/%s: records" % tr, a.txt(), [["signed"]])
        a = ask("EDNS", port, tr, "txt.test", T_TXT, edns=4096, do=True)
        if a:
            opt = [r for r in a.additional if r[1] == T_OPT]
            R.eq("EDNS/%s: one OPT" % tr, len(opt), 1)
            if opt:
                R.eq("EDNS/%s: OPT size 1232, DO, version 0" % tr, (opt[0][0], opt[0][2], opt[0][3]),
                     ("", 1232, 0x8000))
        a = ask("EDNS version 1", port, tr, "txt.test", T_TXT, edns=1232, version=1)
        if a:
            opt = [r for r in a.additional if r[1] == T_OPT]
            R.check("EDNS version 1/%s: BADVERS" % tr, a.rcode == 0 and opt and opt[0][3] >> 24 == 1,
                    short(opt))
        a = ask("opcode STATUS", port, tr, "txt.test", T_TXT, opcode=2)
        if a:
            R.eq("opcode STATUS/%s: NOTIMP" % tr, a.rcode, 4)
        a = ask("class CH", port, tr, "txt.test", T_TXT, qclass=3)
        if a:
            R.eq("class CH/%s: REFUSED" % tr, a.rcode, 5)

    # Several queries on one TCP connection are answered in order.
    answers = tcp_pipelined(port, [dns_query(0x0101, "addr.test", T_A), dns_query(0x0202, "addr.test", T_AAAA)])
    R.eq("tcp: two queries on one connection, answered in order", [m[:2] for m in answers],
         [b"\x01\x01", b"\x02\x02"])

    # truncate: UDP gets TC and nothing else, TCP the full answer.
    a = ask("truncate", port, "udp", "trunc.test", T_TXT)
    if a:
        R.check("truncate/udp: TC, no records", a.bit(TC) and not a.answer and not a.authority, hex(a.flags))
    a = ask("truncate", port, "tcp", "trunc.test", T_TXT)
    if a:
        R.check("truncate/tcp: full answer", not a.bit(TC) and a.txt() == [["full answer"]], short(a.txt()))
    R.eq("stats: truncate over udp", stat_count(stats_path, "trunc.test", "TXT", "udp"), 1)
    R.eq("stats: truncate over tcp", stat_count(stats_path, "trunc.test", "TXT", "tcp"), 1)

    # many: too big for UDP (with or without EDNS), complete over TCP.
    for edns in (None, 1232):
        a = ask("many edns=%s" % edns, port, "udp", "many.test", T_TXT, edns=edns)
        if a:
            R.check("many/udp edns=%s: TC" % edns, a.bit(TC) and not a.answer, hex(a.flags))
    a = ask("many", port, "tcp", "many.test", T_TXT)
    if a:
        txt = a.txt()
        R.eq("many/tcp: 150 records", len(txt), 150)
        R.eq("many/tcp: filler first, zone record last", (txt[0], txt[-1]), (["record-1"], ["the real one"]))
    # UDP size: 512 without EDNS, else the client's EDNS size capped at 1232.
    for qname, edns, want_tc in (("mid.test", None, True), ("mid.test", 700, True), ("mid.test", 1232, False),
                                 ("mid.test", 4096, False), ("big.test", 4096, True)):
        a = ask("size %s edns=%s" % (qname, edns), port, "udp", qname, T_TXT, edns=edns)
        if a:
            R.eq("size %s edns=%s/udp: TC" % (qname, edns), a.bit(TC), want_tc)
            R.eq("size %s edns=%s/udp: records" % (qname, edns), len(a.answer), 0 if want_tc else 1)
    a = ask("size big.test", port, "tcp", "big.test", T_TXT)
    if a:
        R.eq("size big.test/tcp: full answer", a.txt(), [["b" * 220] * 6])
    a = ask("many, other type", port, "tcp", "many.test", T_A)
    if a:
        R.eq("many/tcp A: NODATA", (a.rcode, a.answer), (0, []))

    # drop: no answer within a second, on either transport; every try is counted.
    R.eq("drop/udp: no answer in 1 s", udp(port, dns_query(7, "drop.test", T_TXT)), None)
    R.eq("drop/udp: no answer in 1 s (2nd try)", udp(port, dns_query(8, "drop.test", T_TXT)), None)
    R.eq("drop/tcp: no answer in 1 s", tcp(port, dns_query(9, "drop.test", T_TXT)), None)
    R.eq("stats: drop tries over udp", stat_count(stats_path, "drop.test", "TXT", "udp"), 2)
    R.eq("stats: drop tries over tcp", stat_count(stats_path, "drop.test", "TXT", "tcp"), 1)

    # Malformed input: FORMERR with the id when there is one, silence otherwise, never a crash.
    good = dns_query(0x4242, "txt.test", T_TXT)
    bad = {
        "short header": good[:7],
        "two questions": good[:4] + b"\x00\x02" + good[6:],
        "no question": good[:4] + b"\x00\x00" + good[6:12],
        "pointer loop": good[:12] + b"\xc0\x0c" + good[-4:],
        "label past the end": good[:12] + b"\x3f" + b"a" * 5,
        "truncated question": good[:-2],
        "trailing bytes": good + b"\x00",
        "reserved label type": good[:12] + b"\x40" + good[13:],
        "additional count too high": good[:10] + b"\x00\x03" + good[12:],
    }
    before_malformed = read_stats(stats_path).get("malformed", 0)
    for tr in ("udp", "tcp"):
        for what, msg in bad.items():
            data = (udp if tr == "udp" else tcp)(port, msg)
            ok = data is not None and len(data) >= 12 and data[:2] == b"\x42\x42" and data[3] & 0xF == 1 \
                and data[2] & 0x80
            R.check("malformed %s/%s: FORMERR with the id" % (what, tr), ok, short(data))
    R.eq("malformed: counted", read_stats(stats_path).get("malformed", 0) - before_malformed, 2 * len(bad))
    R.eq("one byte: no answer", udp(port, b"\x42", timeout=0.3), None)
    R.eq("a response (QR set): no answer", udp(port, dns_query(5, "txt.test", T_TXT, qr=True), timeout=0.3), None)
    # A burst of mutated queries (fixed seed): the server must stay up and keep answering.
    rnd = random.Random(8555)
    base = dns_query(1, "txt.test", T_TXT, edns=1232)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(600):
        m = bytearray(base)
        for _ in range(rnd.randint(1, 4)):
            op = rnd.random()
            if op < 0.6:
                m[rnd.randrange(len(m))] = rnd.randrange(256)
            elif op < 0.8:
                del m[rnd.randrange(len(m)):]
            else:
                m += bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
            if not m:
                m = bytearray(b"\x00")
        s.sendto(bytes(m), ("127.0.0.1", port))
        if i % 100 == 99:
            time.sleep(0.005)
    s.close()
    # The stats file is rewritten for each of them, so give the backlog a few seconds.
    alive = wait_for(lambda: udp(port, dns_query(0x7777, "txt.test", T_TXT), timeout=0.5) is not None, 5.0)
    R.check("still alive after malformed input", alive and proc.poll() is None and ask("alive", port, "udp", "txt.test", T_TXT))
    R.check("no internal error logged", "internal error" not in read_text(log_path))

    # IPv6, same port.
    for tr in ("udp", "tcp"):
        a = ask("over ::1", port, tr, "txt.test", T_TXT, addr="::1")
        if a:
            R.eq("over ::1/%s: records" % tr, len(a.txt()), 2)

    # SIGHUP reloads; a broken zone keeps the old one. SIGUSR1 resets the counts.
    zone2 = dict(ZONE)
    zone2["records"] = ZONE["records"] + [{"name": "new.test", "type": "A", "value": "127.0.0.9"}]
    with open(zone_path, "w") as f:
        json.dump(zone2, f)
    proc.send_signal(signal.SIGHUP)
    R.check("SIGHUP: zone generation 2", wait_for(lambda: read_stats(stats_path).get("zone_generation") == 2, 3.0))
    a = ask("after reload", port, "udp", "new.test", T_A)
    if a:
        R.eq("after reload: new record", [r[4] for r in a.answer], [bytes([127, 0, 0, 9])])
    with open(zone_path, "w") as f:
        f.write('{"records": [{"name": "x.test", "type": "TXT"}]}')
    proc.send_signal(signal.SIGHUP)
    R.check("SIGHUP with a broken zone: reported",
            wait_for(lambda: "zone reload failed" in read_text(log_path), 3.0))
    a = ask("after failed reload", port, "udp", "new.test", T_A)
    if a:
        R.eq("after failed reload: previous zone kept", [r[4] for r in a.answer], [bytes([127, 0, 0, 9])])
    R.eq("after failed reload: generation unchanged", read_stats(stats_path).get("zone_generation"), 2)
    proc.send_signal(signal.SIGUSR1)
    R.check("SIGUSR1: counts reset", wait_for(lambda: read_stats(stats_path).get("total") == 0, 3.0))
    R.check("log: one line per query", wait_for(lambda: "txt.test TXT -> NOERROR an=2" in read_text(log_path), 2.0))


def check_refuses_non_loopback(script):
    """A fixture asked to listen beyond loopback must refuse and exit non-zero."""
    name = os.path.basename(script)
    p = subprocess.Popen([sys.executable, script, "--listen", "0.0.0.0"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=5.0)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    R.check("%s refuses a non-loopback address" % name, p.returncode not in (0, None) and b"READY" not in out,
            "rc %r, stdout %r" % (p.returncode, out))
    R.check("%s says why" % name, b"not a loopback address" in err, short(err))


def check_unread_stderr(script, args, flood, probe):
    """A parent that pipes a fixture's stderr and never reads it must not stall the fixture:
    flood() makes it log far more than a pipe holds, then probe() must still get answers."""
    name = os.path.basename(script)
    p = subprocess.Popen([sys.executable, script] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    PROCS.append(p)
    try:
        ready, _, _ = select.select([p.stdout], [], [], 10.0)
        line = p.stdout.readline().decode() if ready else ""
        if not R.check("%s with unread stderr: starts" % name, line.startswith("READY "), repr(line)):
            return
        port = int(line.split()[1])
        flood(port)
        R.check("%s with unread stderr: still answers" % name, wait_for(lambda: probe(port), 3.0))
    finally:
        stop_fixture(name + " with unread stderr", p)


def flood_http(port):
    for i in range(300):
        _, end = exchange(port, request_bytes(PREFIX + "notfound_" + "f" * 200, host="h" * 100 + ".test",
                                              extra=[("User-Agent", "u" * 100)]), timeout=1.0)
        if end != "eof":
            break  # stalled already; the probe will tell


def probe_http(port):
    try:
        return parse_response(exchange(port, request_bytes(PREFIX + "ok_probe0123456789"), timeout=0.5)[0])[0] == 200
    except OSError:
        return False


def flood_dns(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    q = dns_query(1, ".".join(["l" * 60] * 4), T_TXT)
    for i in range(1500):
        s.sendto(q, ("127.0.0.1", port))
        if i % 100 == 99:
            time.sleep(0.002)
    s.close()


def probe_dns(port):
    return udp(port, dns_query(2, "probe.test", T_TXT), timeout=0.5) is not None


def guarded(what, fn, *args):
    try:
        fn(*args)
    except Exception as e:  # a fixture bug must show up as a failure, not as a traceback only
        R.check(what + " ran to the end", False, repr(e))


def watchdog():
    time.sleep(WATCHDOG_S)
    R.check("self-check finishes within %.0f s" % WATCHDOG_S, False)
    for p in PROCS:
        p.kill()
    R.summary()
    os._exit(1)


def main():
    threading.Thread(target=watchdog, daemon=True).start()
    try:
        return run()
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()


def run():
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="acmeva-fixtures-") as tmp:
        zone_path = os.path.join(tmp, "zone.json")
        stats_path = os.path.join(tmp, "stats.json")
        http_log = os.path.join(tmp, "httpfix.log")
        dns_log = os.path.join(tmp, "dnsfix.log")
        with open(zone_path, "w") as f:
            json.dump(ZONE, f)
        try:
            hp, hport = start_fixture(HTTPFIX, ["--listen", "127.0.0.1", "--listen", "::1",
                                                "--key-authorization-suffix", SUFFIX,
                                                "--https-redirect-port", str(HTTPS_PORT)], http_log)
            dp, dport = start_fixture(DNSFIX, ["--listen", "127.0.0.1", "--listen", "::1",
                                               "--zone", zone_path, "--stats", stats_path], dns_log)
        except (RuntimeError, OSError) as e:
            R.check("fixtures start", False, str(e))
            for p in PROCS:
                p.kill()
            return R.summary()
        R.check("fixtures start", True)
        # The two fixtures are checked side by side so that their bounded waits overlap.
        http_thread = threading.Thread(target=guarded, args=("HTTP checks", http_checks, hport, http_log))
        http_thread.start()
        guarded("DNS checks", dns_checks, dport, dp, zone_path, stats_path, dns_log)
        http_thread.join()
        try:
            holdp, holdport = start_fixture(HTTPFIX, ["--listen", "127.0.0.1", "--listen", "::1",
                                                      "--key-authorization-suffix", SUFFIX,
                                                      "--hold-ms", "300", "--redirect-host", "[::1]"],
                                            os.path.join(tmp, "httpfix-hold.log"))
            guarded("hold checks", hold_checks, holdport)
            stop_fixture("httpfix --hold-ms", holdp)
        except (RuntimeError, OSError) as e:
            R.check("httpfix --hold-ms starts", False, str(e))
        # Stop with a connection still open: shutdown must not wait for it.
        s = connect(hport, timeout=1.0)
        s.sendall(request_bytes(PREFIX + "silent_atexit0123456789"))
        time.sleep(0.2)
        stop_fixture("httpfix", hp)
        s.close()
        stop_fixture("dnsfix", dp, signal.SIGINT)
        check_refuses_non_loopback(HTTPFIX)
        check_refuses_non_loopback(DNSFIX)
        check_unread_stderr(HTTPFIX, [], flood_http, probe_http)
        check_unread_stderr(DNSFIX, [], flood_dns, probe_dns)
        if R.failed:
            for name, path in (("httpfix", http_log), ("dnsfix", dns_log)):
                tail = read_text(path).splitlines()[-15:]
                print("--- last lines of %s stderr:\n%s" % (name, "\n".join(tail)), flush=True)
    print("self-check took %.1f s" % (time.monotonic() - t0), flush=True)
    return R.summary()


if __name__ == "__main__":
    sys.exit(main())
