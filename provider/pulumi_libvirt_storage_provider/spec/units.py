"""Units and normalisation: sizes in bytes, modes as four-digit octal, clean paths.

Both sides of every diff go through these functions, so that "20GiB" and 21474836480,
"770" and "0770", "/srv/pool/" and "/srv/pool" compare equal.
"""

from __future__ import annotations

import decimal
import re

# libvirt's scaled integers (virScaleInteger): k/K/KiB are 1024, KB is 1000, ...
_SIZE_UNITS: dict[str, int] = {
    "": 1, "b": 1, "byte": 1, "bytes": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
    "p": 1024**5, "pib": 1024**5, "pb": 1000**5,
    "e": 1024**6, "eib": 1024**6, "eb": 1000**6,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
SIZE_HELP = 'a number of bytes or a string such as "512MiB", "20GiB", "1.5TiB" or "10GB"'


class SpecError(ValueError):
    """Bad input for one property. `prop` is the property path the user wrote."""

    def __init__(self, prop: str, message: str) -> None:
        super().__init__(f"{prop}: {message}")
        self.prop = prop
        self.reason = message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # (pickled by the dynamic front end's worker)
        return type(self), (self.prop, self.reason)


def parse_size(value: object, prop: str) -> int:
    """Bytes from an int, a float without fraction (the engine sends numbers as floats)
    or a string with a unit."""
    if isinstance(value, bool):
        raise SpecError(prop, f"expected {SIZE_HELP}, got a boolean")
    if isinstance(value, int):
        size = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise SpecError(prop, f"a size in bytes must be whole, got {value}")
        size = int(value)
    elif isinstance(value, str):
        match = _SIZE_RE.match(value)
        if not match or match.group(2).lower() not in _SIZE_UNITS:
            raise SpecError(prop, f"expected {SIZE_HELP}, got {value!r}")
        number, unit = match.groups()
        scaled = decimal.Decimal(number) * _SIZE_UNITS[unit.lower()]  # exact, unlike float
        if scaled != scaled.to_integral_value():
            raise SpecError(prop, f"{value!r} is not a whole number of bytes")
        size = int(scaled)
    else:
        raise SpecError(prop, f"expected {SIZE_HELP}, got {type(value).__name__}")
    if size < 0:
        raise SpecError(prop, f"a size cannot be negative, got {value!r}")
    return size


def format_size(size_bytes: int) -> str:
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size_bytes >= factor and size_bytes % factor == 0:
            return f"{size_bytes // factor}{unit}"
    return f"{size_bytes}B"


def parse_mode(value: object, prop: str) -> str:
    """A permission mode as libvirt writes it: four octal digits ("0755")."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        # 755 written as a number means the octal digits 7-5-5, as in chmod.
        value = str(value)
    if not isinstance(value, str) or not re.fullmatch(r"0?[0-7]{3,4}", value.strip()):
        raise SpecError(prop, f'expected an octal mode such as "0755" or "0770", got {value!r}')
    digits = value.strip()
    mode = int(digits, 8)
    if mode > 0o7777:
        raise SpecError(prop, f"mode {value!r} is larger than 07777")
    return f"{mode:04o}"


def parse_id(value: object, prop: str) -> int:
    """A uid or gid: a whole number >= -1 (-1 means 'leave as is' to libvirt)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < -1:
        raise SpecError(prop, f"expected a numeric uid/gid (-1 for unchanged), got {value!r}")
    return value


def clean_path(value: object, prop: str, *, absolute: bool = True) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(prop, f"expected a path, got {value!r}")
    if absolute and not value.startswith("/"):
        raise SpecError(prop, f"must be an absolute path (start with '/'), got {value!r}")
    if "\0" in value or "\n" in value:
        raise SpecError(prop, "must not contain NUL or newline characters")
    path = re.sub(r"/+", "/", value)
    if len(path) > 1:
        path = path.rstrip("/")
    return path


def parse_int(value: object, prop: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpecError(prop, f"expected a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise SpecError(prop, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SpecError(prop, f"must be at most {maximum}, got {value}")
    return value
