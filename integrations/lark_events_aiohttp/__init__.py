"""lark-events adapter for aiohttp (see issue: adapters)."""
