"""`python -m xmodal.retrieve`: the k shapes nearest to a picture, from an index of voxel embeddings."""
import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

from tfrecords_tools.atomic import atomic_file
from tfrecords_tools.captions import captioned
from tfrecords_tools.errors import UserError, add_verbose_flag, run_cli
from tfrecords_tools.flags import positive_int
from tfrecords_tools.read import dataset, reading
from tfrecords_tools.validate import checked_manifest
from xmodal.embedder import Embedder, embed_split, load_embedder
from xmodal.metrics import pairwise_distances
from xmodal.query_image import png_bytes, read_query
from xmodal.versions import MODEL_HELP

TILE = 160  # pixels per picture in the --out grid


def build_index(embedder: Embedder, data: str) -> dict:
    """Voxel embeddings of every object of every split of `data`."""
    parts = [embed_split(embedder, data, split) for split, s in checked_manifest(data)["splits"].items() if s["objects"]]
    return {"embeddings": np.concatenate([p.voxels for p in parts]),
            "object_ids": np.concatenate([p.object_ids for p in parts]),
            "categories": np.concatenate([p.categories for p in parts]),
            "data": np.array(str(Path(data).resolve())),
            "voxel_res": np.array(embedder.voxel_res)}


def load_index(path: str, embedder: Embedder) -> dict:
    """A saved index (.npz), or an index built from a dataset directory."""
    if Path(path).is_dir():
        return build_index(embedder, path)
    try:
        with np.load(path) as saved:
            index = dict(saved)
    except (OSError, ValueError) as error:
        raise UserError(f"{path} is neither a dataset directory nor a saved index (.npz): {error}") from None
    if int(index["voxel_res"]) != embedder.voxel_res:
        raise UserError(f"index {path} was built at {int(index['voxel_res'])}^3 voxels; the model expects {embedder.voxel_res}^3")
    return index


def nearest(index: dict, query: np.ndarray, k: int) -> list[tuple[str, str, float]]:
    """(object id, category, distance) of the k shapes nearest to a (128,) query embedding."""
    distances = pairwise_distances(query[None], index["embeddings"])[0]  # (N,)
    top = np.argpartition(distances, min(k, len(distances) - 1))[:k]
    top = top[np.argsort(distances[top])]
    return [(str(index["object_ids"][i]), str(index["categories"][i]), float(distances[i])) for i in top]


def first_renders(data: str, object_ids: list[str]) -> dict[str, np.ndarray]:
    """The first render of each listed object, searched through every split."""
    wanted, found = set(object_ids), {}
    with reading(data):
        for split in checked_manifest(data)["splits"]:
            for row in dataset(data, split).as_numpy_iterator():
                if row["object_id"].decode() in wanted:
                    found[row["object_id"].decode()] = row["images"][0]
    return found


def draw(query: bytes, hits: list, data: str, out: str) -> None:
    """The query beside a render of each retrieved shape, each under a caption: rank, id and distance."""
    renders = first_renders(data, [h[0] for h in hits])
    tiles = [Image.open(io.BytesIO(query)).convert("RGB").resize((TILE, TILE))]
    tiles += [Image.fromarray(renders[h[0]]).resize((TILE, TILE)) for h in hits if h[0] in renders]
    captions = [["query", ""]] + [[f"{rank}. {object_id}", f"distance {distance:.4f}"]
                                  for rank, (object_id, _, distance) in enumerate(hits, 1) if object_id in renders]
    tiles = [captioned(tile, lines) for tile, lines in zip(tiles, captions)]
    grid = Image.new("RGB", (TILE * len(tiles) + 8, tiles[0].height), "white")
    for i, tile in enumerate(tiles):
        grid.paste(tile, (i * TILE + (8 if i else 0), 0))
    with atomic_file(out) as tmp:
        grid.save(tmp)


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m xmodal.retrieve", description=__doc__)
    parser.add_argument("--model", required=True, help=MODEL_HELP)
    parser.add_argument("--index", required=True, help="dataset directory, or an index saved with --save-index")
    parser.add_argument("--image", help="query picture (PNG, JPEG or any format PIL reads, up to PIL's limit of "
                                        "about 89 M pixels; 16-bit scaled to 8; transparency composited on white)")
    parser.add_argument("--k", type=positive_int, default=5, help="number of shapes to return (default 5)")
    parser.add_argument("--out", help="draw the query beside renders of the retrieved shapes (captioned with rank, "
                                      "id and distance) into this PNG")
    parser.add_argument("--save-index", help="save the index of voxel embeddings to this .npz for later queries")
    add_verbose_flag(parser)
    args = parser.parse_args()
    query = png_bytes(read_query(args.image)) if args.image else None  # 8-bit RGB, transparency on white
    embedder = load_embedder(args.model)
    index = load_index(args.index, embedder)
    if args.save_index:
        path = args.save_index if args.save_index.endswith(".npz") else args.save_index + ".npz"
        with atomic_file(path) as tmp:
            np.savez(tmp, **index)
        print(f"saved index of {len(index['embeddings'])} shapes to {path}")
    if query is None:
        return
    hits = nearest(index, embedder.encoded([query])[0], args.k)
    print(f"{'rank':>4}  {'object id':30} {'category':12} distance")
    for rank, (object_id, category, distance) in enumerate(hits, 1):
        print(f"{rank:>4}  {object_id:30} {category:12} {distance:.4f}")
    if args.out:
        draw(query, hits, str(index["data"]), args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    run_cli(main)
