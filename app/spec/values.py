"""Checks on values from outside (frames, API requests) that no schema expresses."""


def contains_nul(value) -> bool:
    """Whether a NUL hides in a string of `value`, keys included: PostgreSQL cannot store one."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False
