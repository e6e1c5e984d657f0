# A Python websockets client against an echo server: text, binary, a
# fragmented message, a ping, a large compressible message, and a close
# with a code. Prints OK, or raises.
import asyncio
import sys

import websockets


async def main(url):
    async with websockets.connect(url, max_size=None) as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        assert "permessage-deflate" in ext, ext
        await ws.send("héllo")
        assert await ws.recv() == "héllo"
        await ws.send(b"\x00\x01\xff")
        assert await ws.recv() == b"\x00\x01\xff"
        await ws.send(["frag", "men", "ted"])
        assert await ws.recv() == "fragmented"
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        big = "abc" * 200000
        await ws.send(big)
        assert await ws.recv() == big
        await ws.close(code=4000, reason="bye")
        assert ws.close_code == 4000, ws.close_code
    print("OK")


asyncio.run(main(sys.argv[1]))
