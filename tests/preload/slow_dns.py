"""A DNS server for the lookup tests: UDP on 127.0.0.1:53, every answer
sent DELAY seconds after its query (each query on a thread of its own, so
queries that arrive together are answered together).

  slow.greenshim.test   A 10.1.2.3, no AAAA (NOERROR, no answer)
  fast.greenshim.test   A 10.1.2.4, no AAAA
  3.2.1.10.in-addr.arpa PTR slow.greenshim.test
  anything else         NXDOMAIN

Usage: slow_dns.py DELAY   (prints "ready" once the socket is bound)
"""
import socket
import struct
import sys
import threading
import time

DELAY = float(sys.argv[1])
A = {"slow.greenshim.test": "10.1.2.3", "fast.greenshim.test": "10.1.2.4"}
PTR = {"3.2.1.10.in-addr.arpa": "slow.greenshim.test"}
T_A, T_PTR, C_IN = 1, 12, 1


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def parse_question(msg):
    labels, i = [], 12
    while msg[i] != 0:
        n = msg[i]
        labels.append(msg[i + 1 : i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qtype, qclass = struct.unpack("!HH", msg[i + 1 : i + 5])
    return ".".join(labels).lower(), qtype, qclass, msg[12 : i + 5]


def answer(query):
    qid, flags = struct.unpack("!HH", query[:4])
    name, qtype, qclass, question = parse_question(query)
    rcode, records = 0, []
    if qclass == C_IN and name in A:
        if qtype == T_A:
            records.append((T_A, socket.inet_aton(A[name])))
    elif qclass == C_IN and name in PTR:
        if qtype == T_PTR:
            records.append((T_PTR, encode_name(PTR[name])))
    else:
        rcode = 3  # NXDOMAIN
    # QR, opcode copied, AA, RD copied, RA
    rflags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode
    out = struct.pack("!HHHHHH", qid, rflags, 1, len(records), 0, 0) + question
    for rtype, rdata in records:
        out += b"\xc0\x0c" + struct.pack("!HHIH", rtype, C_IN, 60, len(rdata)) + rdata
    return out


def reply_later(sock, query, addr):
    time.sleep(DELAY)
    try:
        sock.sendto(answer(query), addr)
    except Exception as e:  # a malformed query: no answer
        print("bad query:", e, file=sys.stderr, flush=True)


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 53))
    print("ready", flush=True)
    while True:
        query, addr = sock.recvfrom(4096)
        threading.Thread(target=reply_later, args=(sock, query, addr), daemon=True).start()


main()
