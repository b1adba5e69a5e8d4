import io

import numpy as np
from PIL import Image

from tfrecords_tools.dataset.records import decode_images, decode_rgba, has_masks, unpack_voxels


def test_packbits_round_trip_in_graph():
    grid = np.random.default_rng(0).random((2, 8, 8, 8)) < 0.3
    packed = np.array([np.packbits(g).tobytes() for g in grid])
    np.testing.assert_array_equal(unpack_voxels(packed, 8).numpy(), grid.astype(np.uint8))


def png_of(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def test_rgb_decoding_drops_alpha_and_rgba_decoding_keeps_it():
    rgba = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 4), dtype=np.uint8)
    rgba[..., 3] = np.where(rgba[..., 3] < 100, 0, rgba[..., 3])  # transparent pixels keep their colour
    pngs = np.array([png_of(image) for image in rgba])
    np.testing.assert_array_equal(decode_images(pngs, 8).numpy(), rgba[..., :3])  # no composite: the stored RGB
    np.testing.assert_array_equal(decode_rgba(pngs, 8).numpy(), rgba)


def test_rgba_decoding_of_rgb_pngs_is_opaque_and_format_2_has_no_masks():
    rgb = np.random.default_rng(1).integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)
    decoded = decode_rgba(np.array([png_of(rgb[0])]), 8).numpy()
    np.testing.assert_array_equal(decoded[..., :3], rgb)
    assert (decoded[..., 3] == 255).all()
    assert not has_masks({"format_version": 2}) and has_masks({"format_version": 3})
