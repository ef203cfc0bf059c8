"""lark-events adapter for flask (see issue: adapters)."""
