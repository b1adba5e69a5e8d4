"""Query pictures of `retrieve` and `serve`: any image PIL reads, as 8-bit RGB with transparency composited on white,
letterboxed to a square on white (never stretched), as the export's `embed_png` does in its graph."""
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from tfrecords_tools.errors import UserError

BACKGROUND = "white"  # transparent pixels, and the letterbox around a picture that is not square, are this colour
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")  # 16-bit grayscale PNGs open in these modes


def eight_bit_rgb(image: Image.Image) -> Image.Image:
    """RGB with 8 bits per channel: 16-bit grey scaled (not clipped to white), alpha composited on white."""
    if image.mode in SIXTEEN_BIT_MODES:
        grey = np.asarray(image, np.float64) / 257.0  # (H, W) 0..65535 -> 0..255
        image = Image.fromarray(np.clip(np.round(grey), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND), rgba).convert("RGB")
    return image.convert("RGB")


def read_picture(data: bytes, name: str) -> Image.Image:
    """A picture file's bytes as 8-bit RGB; a UserError naming `name` when they are not a readable picture, are
    broken or are over PIL's pixel limit (a decompression bomb)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.verify()  # the chunk checksums, which load() does not check
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return eight_bit_rgb(image)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise UserError(f"{name}: more than {Image.MAX_IMAGE_PIXELS:,} pixels, PIL's limit against decompression "
                        "bombs: downscale it first") from None
    except Image.UnidentifiedImageError:
        raise UserError(f"{name}: not a readable image: not a picture format PIL knows") from None
    except (OSError, SyntaxError, ValueError) as error:  # broken PNG chunks raise SyntaxError
        raise UserError(f"{name}: not a readable image: {error}") from None


def query_file(path: str) -> bytes:
    """The bytes of the picture file at `path`; a UserError when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UserError(f"{path}: not a readable image: {error.strerror}") from None


def letterboxed(image: Image.Image) -> Image.Image:
    """The picture centred on a white square as wide as its longer side (a square picture as it is)."""
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    square = Image.new("RGB", (side, side), BACKGROUND)
    square.paste(image, ((side - width) // 2, (side - height) // 2))
    return square


def png_bytes(image: Image.Image) -> bytes:
    """The PNG file of a picture."""
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
