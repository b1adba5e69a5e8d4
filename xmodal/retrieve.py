"""`python -m xmodal.retrieve`: the k shapes nearest to a picture (or to a mesh), from an index of voxel embeddings.

A picture that is not square is letterboxed: centred on a white square (never stretched), transparency on white
too. Each result of a picture query has a confidence: the share of the export's matched pairs (a test picture and
its own shape, measured at export) that lie at least as far apart; a note says when the nearest shape is farther
than every matched pair (the query looks unlike the catalogue)."""
import argparse
import io
from pathlib import Path

from PIL import Image

from tfrecords_tools.dataset.atomic import atomic_file
from tfrecords_tools.captions import captioned
from tfrecords_tools.errors import UserError, add_verbose_flag, run_cli
from tfrecords_tools.flags import picture_output, positive_int
from xmodal.search.query_image import query_file
from xmodal.search.catalogue import Catalogue, Hit
from xmodal.search.queries import open_searcher, query_picture
from xmodal.serving.versions import MODEL_HELP

TILE = 160  # pixels per picture in the --out grid


def confidence_text(hit: Hit) -> str:
    """A hit's confidence as a percentage, or `-` when the export is not calibrated (or the query is a mesh)."""
    return "-" if hit.confidence is None else f"{100 * hit.confidence:.0f}%"


def draw(query: bytes, hits: list[Hit], catalogue: Catalogue, out: str) -> None:
    """The query beside the render of each retrieved shape, each under a caption: rank, id, distance, confidence."""
    pictures = [query] + [catalogue.thumbnail(hit.position, "render") for hit in hits]
    captions = [["query", ""]] + [[f"{rank}. {hit.object_id}", f"{hit.distance:.4f} ({confidence_text(hit)})"]
                                  for rank, hit in enumerate(hits, 1)]
    tiles = [captioned(Image.open(io.BytesIO(p)).convert("RGB").resize((TILE, TILE)), lines)
             for p, lines in zip(pictures, captions)]
    grid = Image.new("RGB", (TILE * len(tiles) + 8, tiles[0].height), "white")
    for i, tile in enumerate(tiles):
        grid.paste(tile, (i * TILE + (8 if i else 0), 0))
    try:
        with atomic_file(out) as tmp:
            grid.save(tmp)
    except OSError as error:
        raise UserError(f"--out {out}: cannot write it: {error.strerror or error}") from None


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m xmodal.retrieve", description=__doc__)
    parser.add_argument("--index", required=True, help="index folder made by `python -m xmodal.index build`, or a "
                                                       "converted dataset (embedded now, with --model)")
    parser.add_argument("--model", default="", help=MODEL_HELP + "; default: the export that made the index "
                                                                 "(another one is refused)")
    query = parser.add_mutually_exclusive_group(required=True)
    query.add_argument("--image", help="query picture (PNG, JPEG or any format PIL reads, up to PIL's limit of "
                                       "about 89 M pixels; 16-bit scaled to 8; transparency composited on white; "
                                       "letterboxed to a square on white, never stretched)")
    query.add_argument("--mesh", help="query mesh (OBJ, OFF, PLY, STL or GLB), voxelised as the converter does: "
                                      "shape -> shape")
    parser.add_argument("--k", type=positive_int, default=5, help="number of shapes to return (default 5)")
    parser.add_argument("--category", help="return only shapes of this category")
    parser.add_argument("--out", help="draw the query beside renders of the retrieved shapes (captioned with rank, "
                                      "id, distance and confidence) into this picture file (picture queries)")
    add_verbose_flag(parser)
    args = parser.parse_args()
    picture = query_picture(query_file(args.image), args.image) if args.image else None  # a PNG square on white
    if args.mesh and not Path(args.mesh).is_file():
        raise UserError(f"{args.mesh}: no such mesh file")
    if args.out and args.mesh:
        raise UserError("--out draws picture queries: leave it out with --mesh")
    if args.out:
        picture_output(args.out, "--out")
    searcher = open_searcher(args.index, args.model)
    if picture is not None:
        hits = searcher.pictures([picture], args.k, args.category)[0]
    else:
        hits = searcher.mesh(Path(args.mesh).read_bytes(), Path(args.mesh).suffix, args.k, args.category)
    print(f"{'rank':>4}  {'object id':30} {'category':12} {'distance':>8}  confidence")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:>4}  {hit.object_id:30} {hit.category:12} {hit.distance:8.4f}  {confidence_text(hit):>10}")
    note = searcher.note(hits) if picture is not None else None
    if note:
        print(f"note: {note}")
    if args.out and picture is not None:
        draw(picture, hits, searcher.catalogue, args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    run_cli(main)
