"""What the grader saw, drawn over the photo: the fruit's outline and the skin it counts as damaged.

The overlay is a PNG a buyer can check against the photo: a green line where the grader found the
fruit's edge, red patches over the lesions (dark, brown or pale skin) it measured.
"""

from __future__ import annotations

import cv2
import numpy as np

from oracle.appearance import lesion_overlay_maps
from oracle.measure import decode_image

#: Long side of the overlay image in pixels.
OVERLAY_SIDE = 480
OUTLINE_BGR = (60, 200, 60)
LESION_BGR = (40, 40, 230)


def overlay(img: np.ndarray) -> np.ndarray:
    """The overlay image (BGR) for a decoded photo."""
    small, mask, lesions = lesion_overlay_maps(img)
    h, w = img.shape[:2]
    scale = OVERLAY_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    base = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    lesion_big = cv2.resize(lesions.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    tinted = base.copy()
    tinted[lesion_big] = (0.45 * base[lesion_big] + 0.55 * np.array(LESION_BGR)).astype(np.uint8)
    mask_big = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(mask_big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(tinted, contours, -1, OUTLINE_BGR, thickness=2, lineType=cv2.LINE_AA)
    return tinted


def overlay_png(data: bytes, name: str = "image") -> bytes:
    """PNG bytes of the overlay for photo bytes; raises ImageError on a corrupt file."""
    ok, png = cv2.imencode(".png", overlay(decode_image(data, name)))
    if not ok:  # encoding a valid uint8 image does not fail; kept as a guard for OpenCV builds
        raise RuntimeError("PNG encoding failed")
    return png.tobytes()
