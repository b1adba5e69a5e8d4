"""TensorBoard projector files and the t-SNE picture of images and voxels of a few test objects."""
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorboard.plugins import projector

from tfrecords_tools.dataset.atomic import atomic_file, write_text_atomic
from tfrecords_tools.errors import UserError
from tfrecords_tools.meshes.objects import render_voxels
from tfrecords_tools.dataset.read import dataset, reading
from tfrecords_tools.workers import imap_spawned
from xmodal.serving.embedder import Embedder

THUMBNAIL = 48  # sprite cell size in pixels
TENSOR_NAME = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
RUN = "projector"  # the run folder under the log directory holding every projector file
HEADER = ("object_id", "modality", "view", "category", "azimuth", "elevation")


def gather(embedder: Embedder, data: str, split: str, objects: int) -> dict:
    """Embeddings (K, 128), metadata rows and thumbnails (K, T, T, 3) of each object's views, then its voxels."""
    with reading(data):
        rows = list(dataset(data, split).take(objects).as_numpy_iterator())
    if not rows:
        raise UserError(f"split {split!r} of {data} is empty: no object to embed")
    jobs = [(row["voxels"].astype(bool), row["viewpoints"][0], THUMBNAIL) for row in rows]
    voxel_pictures = list(imap_spawned(render_voxels, jobs, workers=1))
    vectors, metadata, thumbnails = [], [], []
    for row, picture in zip(rows, voxel_pictures):
        object_id, category = row["object_id"].decode(), row["category"].decode()
        vectors += [embedder.images(row["images"]), embedder.voxels(row["voxels"][None])]
        for view, (image, (azimuth, elevation, _, _)) in enumerate(zip(row["images"], row["viewpoints"])):
            metadata.append((object_id, "image", str(view), category, f"{azimuth:.1f}", f"{elevation:.1f}"))
            thumbnails.append(np.asarray(Image.fromarray(image).resize((THUMBNAIL, THUMBNAIL), Image.BILINEAR)))
        metadata.append((object_id, "voxels", "", category, "", ""))
        thumbnails.append(picture)
    return {"vectors": np.concatenate(vectors), "metadata": metadata, "thumbnails": np.stack(thumbnails)}


def sprite(thumbnails: np.ndarray) -> Image.Image:
    """A square grid of thumbnails (K, T, T, 3), filled row first."""
    count, size = len(thumbnails), thumbnails.shape[1]
    side = int(np.ceil(np.sqrt(count)))
    grid = np.full((side * size, side * size, 3), 255, np.uint8)
    for i, thumb in enumerate(thumbnails):
        row, col = divmod(i, side)
        grid[row * size:(row + 1) * size, col * size:(col + 1) * size] = thumb
    return Image.fromarray(grid)


def tsv_field(text: str) -> str:
    """One metadata.tsv cell: tabs and line breaks become spaces, so every point stays one row."""
    return " ".join(text.replace("\t", " ").splitlines())


def metadata_tsv(rows: list[tuple[str, ...]]) -> str:
    """metadata.tsv: a header, then one line per point."""
    return "".join("\t".join(map(tsv_field, row)) + "\n" for row in [HEADER, *rows])


def write_projector(logdir: str, gathered: dict) -> Path:
    """The projector files in a run of their own, `logdir/projector`, and return that folder.

    TensorBoard's projector gives every run without a projector config the checkpoint of its
    parent folder, so nothing is written into `logdir` itself: the train and test runs then list
    no embedding, and the projector opens on this run, the one with sprites and metadata. An
    event file makes the folder a run; paths in the config are relative to it.
    """
    root = Path(logdir) / RUN
    root.mkdir(parents=True, exist_ok=True)
    write_text_atomic(root / "metadata.tsv", metadata_tsv(gathered["metadata"]))
    with atomic_file(root / "sprite.png") as tmp:
        sprite(gathered["thumbnails"]).save(tmp)
    tf.train.Checkpoint(embedding=tf.Variable(gathered["vectors"])).save(str(root / "embedding.ckpt"))
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = TENSOR_NAME
    embedding.metadata_path = "metadata.tsv"
    embedding.sprite.image_path = "sprite.png"
    embedding.sprite.single_image_dim.extend([THUMBNAIL, THUMBNAIL])
    projector.visualize_embeddings(str(root), config)
    writer = tf.summary.create_file_writer(str(root))
    with writer.as_default():
        tf.summary.text("points", f"{len(gathered['vectors'])} points: images and voxels of test objects", step=0)
    writer.close()
    return root


def figure_format(suffix: str) -> str:
    """The picture format matplotlib writes for a file suffix: lower case, without the dot ('.PNG' -> 'png')."""
    return suffix.lower().removeprefix(".")


def tsne_writes(suffix: str) -> bool:
    """Whether write_tsne writes pictures to files ending in `suffix`: matplotlib's formats (.png, .jpg, .pdf, .svg,
    ...) except LaTeX code (.pgf, it needs xelatex) and bare pixels (.raw, .rgba)."""
    from matplotlib.backend_bases import FigureCanvasBase

    fmt = figure_format(suffix)
    return fmt not in ("pgf", "raw", "rgba") and fmt in FigureCanvasBase.get_supported_filetypes()


def write_tsne(path: str, gathered: dict, seed: int = 0) -> None:
    """t-SNE of the images and voxels: one colour per object, voxels as large stars (the report's Figure 5), in the
    format of the file's suffix (see tsne_writes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    vectors = gathered["vectors"]
    ids = [m[0] for m in gathered["metadata"]]
    is_voxel = np.array([m[1] == "voxels" for m in gathered["metadata"]])
    points = TSNE(perplexity=min(30.0, len(vectors) - 1.0), random_state=seed, init="pca").fit_transform(vectors)
    figure, axes = plt.subplots(figsize=(7, 7))
    colours = plt.get_cmap("tab10")
    for i, object_id in enumerate(dict.fromkeys(ids)):
        mine = np.array([x == object_id for x in ids])
        axes.scatter(*points[mine & ~is_voxel].T, s=14, color=colours(i % 10), label=object_id)
        axes.scatter(*points[mine & is_voxel].T, s=260, marker="*", color=colours(i % 10), edgecolors="black")
    axes.set_title("t-SNE of test images (dots) and their voxels (stars)")
    axes.legend(fontsize=6, loc="best")
    with atomic_file(path) as tmp:
        figure.savefig(tmp, dpi=110, format=figure_format(Path(path).suffix))
    plt.close(figure)
