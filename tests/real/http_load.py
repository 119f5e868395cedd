"""Many concurrent HTTP/1.0 GETs against one server, every reply checked.

Run natively (one thread, asyncio), so that the load costs the same
whatever the server is. Usage: http_load.py PORT CONNECTIONS PATH EXPECTED
Prints "ok N" when all N replies were "200 OK" with EXPECTED in the body,
else one line saying what went wrong; exits 0 or 1.
"""
import asyncio
import sys


async def get(port, path, expected, results):
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout=60)
        writer.write(b"GET " + path.encode() + b" HTTP/1.0\r\n\r\n")
        await writer.drain()
        body = await asyncio.wait_for(reader.read(), timeout=60)
        writer.close()
        if body.startswith(b"HTTP/1.0 200 OK") and expected.encode() in body:
            results.append(None)
        else:
            results.append("bad reply: %r" % body[:80])
    except Exception as e:  # the test reports it
        results.append(repr(e))


async def main():
    port, n, path, expected = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    results = []
    await asyncio.gather(*(get(port, path, expected, results) for _ in range(n)))
    errors = [r for r in results if r is not None]
    if errors:
        print("%d of %d failed, first: %s" % (len(errors), n, errors[0]))
        return 1
    print("ok %d" % n)
    return 0


sys.exit(asyncio.run(main()))
