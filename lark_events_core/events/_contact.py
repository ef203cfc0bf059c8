"""Contact events: ``contact.user.*``."""

from __future__ import annotations

import msgspec

__all__ = ["Avatar", "User", "UserCreated", "UserStatus"]


class Avatar(msgspec.Struct, frozen=True, gc=False):
    """Avatar URLs by size."""

    avatar_72: str | None = None
    avatar_240: str | None = None
    avatar_640: str | None = None
    avatar_origin: str | None = None


class UserStatus(msgspec.Struct, frozen=True, gc=False):
    """Account state flags."""

    is_frozen: bool | None = None
    is_resigned: bool | None = None
    is_activated: bool | None = None
    is_exited: bool | None = None
    is_unjoin: bool | None = None


class User(msgspec.Struct, frozen=True, gc=False):
    """A user of the tenant's directory (the fields the app has permission to read)."""

    open_id: str | None = None
    union_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    en_name: str | None = None
    nickname: str | None = None
    email: str | None = None
    enterprise_email: str | None = None
    job_title: str | None = None
    mobile: str | None = None
    gender: int | None = None
    avatar: Avatar | None = None
    status: UserStatus | None = None
    department_ids: tuple[str, ...] = ()
    leader_user_id: str | None = None
    city: str | None = None
    country: str | None = None
    work_station: str | None = None
    join_time: int | None = None
    is_tenant_manager: bool | None = None
    employee_no: str | None = None
    employee_type: int | None = None


class UserCreated(msgspec.Struct, frozen=True, gc=False):
    """``contact.user.created_v3``: a user joined the tenant."""

    object: User | None = None
