"""Captions on pictures: lines of text in PIL's default font on a white strip above the picture."""
import numpy as np
from PIL import Image, ImageDraw, ImageFont

PADDING = 3  # pixels around the text


def fitted(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """`text` on one line (whitespace runs become one space), cut with "..." to fit `width` pixels."""
    text = " ".join(text.split())
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


def captioned(picture: np.ndarray | Image.Image, lines: list[str], font_size: int = 11) -> Image.Image:
    """The picture with `lines` of text on a white strip above it."""
    picture = picture if isinstance(picture, Image.Image) else Image.fromarray(picture)
    font = ImageFont.load_default(font_size)
    line_height = font_size + PADDING
    out = Image.new("RGB", (picture.width, line_height * len(lines) + 2 * PADDING), "white")
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        draw.text((PADDING, PADDING + i * line_height), fitted(line, font, picture.width - 2 * PADDING), fill="black",
                  font=font)
    return stacked([out, picture])


def stacked(pictures: list[Image.Image]) -> Image.Image:
    """Pictures of one width, one above the other."""
    out = Image.new("RGB", (pictures[0].width, sum(p.height for p in pictures)), "white")
    top = 0
    for picture in pictures:
        out.paste(picture, (0, top))
        top += picture.height
    return out
