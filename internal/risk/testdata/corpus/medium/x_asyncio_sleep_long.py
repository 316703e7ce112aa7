import asyncio

async def main():
    await asyncio.sleep(3600)

asyncio.run(main())
