"""The outline's view of several objects in one photo (`oracle.appearance.find_fruit`), on drawn photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from oracle.appearance import find_fruit, working_copy

ORANGE = (30, 130, 240)
GREEN_MANGO = (60, 170, 120)
MOULD_GREY = (175, 180, 178)


def _photo(*shapes: tuple[tuple[int, int], tuple[int, int], tuple[int, int, int]]) -> np.ndarray:
    """A 320 x 240 photo on white holding filled ellipses ((centre), (half axes), BGR colour)."""
    img = np.full((240, 320, 3), 250, np.uint8)
    for centre, axes, colour in shapes:
        cv2.ellipse(img, centre, axes, 0, 0, 360, colour, -1, cv2.LINE_AA)
    noise = np.random.default_rng(3).integers(-5, 6, img.shape)
    return np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)


def _found(img: np.ndarray):
    small = working_copy(img)
    return find_fruit(small, cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32))


def test_find_fruit__one_fruit__none_beside():
    found = _found(_photo(((160, 120), (60, 50), ORANGE)))
    assert (found.other_fruits, found.joined) == (0, 0)
    assert found.mask.mean() > 0.1


@pytest.mark.parametrize("colour", [ORANGE, GREEN_MANGO])
def test_find_fruit__second_fruit_apart__counted_as_another(colour):
    found = _found(_photo(((95, 120), (55, 48), ORANGE), ((245, 120), (42, 38), colour)))
    assert (found.other_fruits, found.joined) == (1, 0)
    # The main fruit is the larger one: its outline does not reach the other.
    assert found.mask[:, 110:].sum() == 0


def test_find_fruit__second_object_close_beside__joined_not_another_fruit():
    """Closer than a third of a fruit's size, the second object may be the rest of the first."""
    found = _found(_photo(((95, 120), (55, 48), ORANGE), ((196, 120), (42, 38), ORANGE)))
    assert (found.other_fruits, found.joined) == (0, 1)


@pytest.mark.parametrize(
    "second",
    [
        ((245, 120), (42, 38), MOULD_GREY),  # grey: mould or a shadow, not another skin
        ((245, 120), (12, 10), ORANGE),  # far smaller than the fruit: a leaf, a label, a stem
        ((245, 120), (60, 4), ORANGE),  # thin: a ribbon, a twig
    ],
)
def test_find_fruit__grey_small_or_thin_object__not_a_fruit(second):
    found = _found(_photo(((95, 120), (55, 48), ORANGE), second))
    assert (found.other_fruits, found.joined) == (0, 0)


def test_find_fruit__close_up_running_off_the_frame__pieces_are_the_same_fruit():
    """A fruit cut by the frame fills a close-up: whatever else stands out is part of it."""
    found = _found(_photo(((40, 120), (120, 110), ORANGE), ((270, 120), (40, 36), ORANGE)))
    assert (found.other_fruits, found.joined) == (0, 0)
