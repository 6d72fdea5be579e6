"""spec/units.py: sizes in bytes, modes as four octal digits, clean absolute paths, numeric ids."""

from __future__ import annotations

import pytest

from pulumi_libvirt_storage_provider.spec.units import (SpecError, clean_path, format_size, parse_id, parse_mode,
                                                        parse_size)

GiB = 1024**3


@pytest.mark.parametrize("value, expected", [
    ("20GiB", 20 * GiB),
    ("20G", 20 * GiB),
    ("20 gib", 20 * GiB),
    ("10GB", 10 * 1000**3),
    ("512MiB", 512 * 1024**2),
    ("1.5KiB", 1536),
    ("1.5TiB", 3 * 1024**4 // 2),
    ("4096", 4096),
    ("4096B", 4096),
    ("4096 bytes", 4096),
    (4096, 4096),
    (2048.0, 2048),  # the engine sends every number as a float
    (0, 0),
])
def test_size_is_parsed_to_bytes(value, expected):
    size = parse_size(value, "capacity")
    assert size == expected and type(size) is int


@pytest.mark.parametrize("value", [-1, -1.0, "-1GiB", "-5"])
def test_negative_size_is_refused(value):
    with pytest.raises(SpecError) as caught:
        parse_size(value, "capacity")
    assert caught.value.prop == "capacity"


@pytest.mark.parametrize("value", [2048.5, "0.5", "1.1MiB", "0.3B"])
def test_fractional_bytes_are_refused(value):
    with pytest.raises(SpecError) as caught:
        parse_size(value, "capacity")
    assert caught.value.prop == "capacity"
    assert "whole" in caught.value.reason


@pytest.mark.parametrize("value", [True, False])
def test_boolean_size_is_refused(value):
    with pytest.raises(SpecError) as caught:
        parse_size(value, "capacity")
    assert "boolean" in caught.value.reason


@pytest.mark.parametrize("value", ["20XB", "GiB", "twenty", "1e3", None, [1], {"a": 1}])
def test_unreadable_size_is_refused_with_examples(value):
    with pytest.raises(SpecError) as caught:
        parse_size(value, "allocation")
    assert caught.value.prop == "allocation"
    assert "20GiB" in caught.value.reason  # the message shows what a size looks like


def test_decimal_size_that_is_a_whole_number_of_bytes_is_accepted():
    assert parse_size("1.005KB", "capacity") == 1005


def test_large_byte_count_given_as_string_is_exact():
    assert parse_size(str(2**53 + 1), "capacity") == 2**53 + 1


@pytest.mark.parametrize("size, text", [(20 * GiB, "20GiB"), (1536, "1536B"), (3 * 1024**4, "3TiB"), (0, "0B")])
def test_format_size_uses_the_largest_exact_binary_unit(size, text):
    assert format_size(size) == text


@pytest.mark.parametrize("value, expected", [
    ("755", "0755"),
    ("0755", "0755"),
    (755, "0755"),  # a number means the octal digits, as in chmod 755
    (755.0, "0755"),
    ("700", "0700"),
    (" 0711 ", "0711"),
    ("1777", "1777"),
    ("07777", "7777"),
])
def test_mode_is_four_octal_digits(value, expected):
    assert parse_mode(value, "target.permissions.mode") == expected


@pytest.mark.parametrize("value", ["888", "75", "rwxr-xr-x", "77777", "-755", 8, 755.5, True, None, ""])
def test_bad_mode_is_refused_naming_the_property(value):
    with pytest.raises(SpecError) as caught:
        parse_mode(value, "target.permissions.mode")
    assert caught.value.prop == "target.permissions.mode"
    assert "0755" in caught.value.reason


@pytest.mark.parametrize("value, expected", [
    ("/srv/pool/", "/srv/pool"),
    ("/srv/pool", "/srv/pool"),
    ("//srv//pool//", "/srv/pool"),
    ("/", "/"),
])
def test_path_is_cleaned_of_trailing_and_double_slashes(value, expected):
    assert clean_path(value, "target.path") == expected


@pytest.mark.parametrize("value", ["srv/pool", "./pool", "pool/"])
def test_relative_path_is_refused(value):
    with pytest.raises(SpecError) as caught:
        clean_path(value, "target.path")
    assert caught.value.prop == "target.path"
    assert "absolute" in caught.value.reason


@pytest.mark.parametrize("value", ["", None, 5, "/srv/a\nb", "/srv/a\0b"])
def test_empty_or_non_string_or_control_character_path_is_refused(value):
    with pytest.raises(SpecError):
        clean_path(value, "target.path")


@pytest.mark.parametrize("value, expected", [(107, 107), (107.0, 107), ("107", 107), (-1, -1), (0, 0)])
def test_uid_is_a_whole_number_minus_one_allowed(value, expected):
    assert parse_id(value, "target.permissions.owner") == expected


@pytest.mark.parametrize("value", [-2, 1.5, True, "root", None])
def test_bad_uid_is_refused(value):
    with pytest.raises(SpecError) as caught:
        parse_id(value, "target.permissions.owner")
    assert caught.value.prop == "target.permissions.owner"
