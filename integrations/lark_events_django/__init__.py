"""lark-events adapter for django (see issue: adapters)."""
