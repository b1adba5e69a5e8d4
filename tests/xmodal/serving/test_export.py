import subprocess
import sys
import textwrap
from pathlib import Path

BLOCKER = """
    import sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("xmodal", "tfrecords_tools"):
                raise ImportError(f"{name} is blocked in this process")

    sys.meta_path.insert(0, Blocker())
"""
BLOCKED_LOAD = textwrap.dedent(BLOCKER + """
    import io
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    model_dir, shard = sys.argv[1], sys.argv[2]
    model = tf.saved_model.load(model_dir)
    voxels = model.signatures["embed_voxels"](voxels=tf.zeros((2, 32, 32, 32), tf.uint8))["embedding"]
    images = model.signatures["embed_images"](images=tf.zeros((3, 64, 64, 3), tf.uint8))["embedding"]
    jpeg = io.BytesIO()
    Image.fromarray(np.full((90, 120, 3), 128, np.uint8)).save(jpeg, format="JPEG")
    png = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(png, format="PNG")
    encoded = model.signatures["embed_png"](images=tf.constant([jpeg.getvalue(), png.getvalue()]))["embedding"]
    direct = model.signatures["embed_images"](images=tf.fill((1, 64, 64, 3), tf.constant(128, tf.uint8)))["embedding"]
    examples = [r.numpy() for r in tf.data.TFRecordDataset(shard)]
    served = model.signatures["serving_default"](examples=tf.constant(examples))
    print("shapes", voxels.shape, images.shape, encoded.shape, served["voxel_embedding"].shape,
          served["image_embeddings"].shape)
    print("png_matches_images", bool(np.allclose(encoded[1], direct[0], atol=1e-4)))
    rng = np.random.default_rng(0)
    grids = (rng.random((2, 32, 32, 32)) < 0.3).astype(np.uint8)
    pictures = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    shape = lambda g: model.signatures["embed_voxels"](voxels=tf.constant(g))["embedding"].numpy()
    picture = lambda p: model.signatures["embed_images"](images=tf.constant(p))["embedding"].numpy()
    print("mirror-averaged", bool(np.allclose(shape(grids), shape(grids[:, :, :, ::-1].copy()), atol=1e-5)),
          bool(np.allclose(picture(pictures), picture(pictures[:, :, ::-1].copy()), atol=1e-5)))
    try:
        model.signatures["embed_voxels"](voxels=tf.zeros((1, 16, 16, 16), tf.uint8))
    except tf.errors.InvalidArgumentError as error:
        print("wrong shape:", next(line for line in error.message.splitlines() if "expected shape" in line))
    print("xmodal imported:", "xmodal" in sys.modules)
""")


SERVING_INPUTS = textwrap.dedent(BLOCKER + """
    import io
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    model = tf.saved_model.load(sys.argv[1])
    empty = {"embed_voxels": {"voxels": tf.zeros((0, 32, 32, 32), tf.uint8)},
             "embed_images": {"images": tf.zeros((0, 64, 64, 3), tf.uint8)},
             "embed_png": {"images": tf.constant([], tf.string)},
             "serving_default": {"examples": tf.constant([], tf.string)}}
    for name, inputs in empty.items():
        print("empty", name, sorted((key, tuple(value.shape)) for key, value in model.signatures[name](**inputs).items()))
    try:
        model.signatures["embed_voxels"](voxels=tf.fill((1, 32, 32, 32), tf.constant(2, tf.uint8)))
        print("voxels of 2 accepted")
    except tf.errors.InvalidArgumentError as error:
        print("voxels of 2 rejected:", next(line for line in error.message.splitlines() if "assertion failed" in line))

    def png(pixels, mode=None):
        out = io.BytesIO()
        Image.fromarray(pixels, mode).save(out, format="PNG")
        return out.getvalue()

    transparent = np.zeros((40, 50, 4), np.uint8)  # black, fully transparent
    grey16 = np.full((64, 64), 30000, np.uint16)  # 16-bit grayscale, 30000 / 65535 = 117 / 255
    files = [png(transparent, "RGBA"), png(np.full((40, 50, 3), 255, np.uint8)), png(np.zeros((40, 50, 3), np.uint8)),
             png(grey16), png(np.full((64, 64, 3), 117, np.uint8))]
    e = model.signatures["embed_png"](images=tf.constant(files))["embedding"].numpy()
    print("transparent is white", bool(np.allclose(e[0], e[1], atol=1e-5)), "not black", not np.allclose(e[0], e[2]))
    print("16-bit grey is its 8-bit value", bool(np.allclose(e[3], e[4], atol=1e-5)), "not white", not np.allclose(e[3], e[1]))

    wide = np.random.default_rng(1).integers(0, 256, (32, 64, 3), dtype=np.uint8)  # half as tall as the model's side
    tall = np.ascontiguousarray(wide.transpose(1, 0, 2))
    boxed_wide, boxed_tall = np.full((64, 64, 3), 255, np.uint8), np.full((64, 64, 3), 255, np.uint8)
    boxed_wide[16:48], boxed_tall[:, 16:48] = wide, tall  # centred on white, at scale 1: no resampling
    stretched = np.asarray(Image.fromarray(wide).resize((64, 64)))
    e = model.signatures["embed_png"](images=tf.constant([png(wide), png(tall)]))["embedding"].numpy()
    direct = model.signatures["embed_images"](images=tf.constant(np.stack([boxed_wide, boxed_tall, stretched])))
    direct = direct["embedding"].numpy()
    print("letterboxed on white", bool(np.allclose(e[:2], direct[:2], atol=1e-5)),
          "not stretched", not np.allclose(e[0], direct[2], atol=1e-3))
""")


def run_script(script: str, tmp_path: Path, *args: str) -> str:
    """The output of a script run in a process of its own; it must succeed."""
    path = tmp_path / "script.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_savedmodel_loads_and_serves_without_xmodal(tiny_model, tiny_data, tmp_path):
    shard = str(sorted(Path(tiny_data).glob("test-*.tfrecord"))[0])
    out = run_script(BLOCKED_LOAD, tmp_path, tiny_model, shard)
    assert "shapes (2, 128) (3, 128) (2, 128) (3, 128) (3, 4, 128)" in out
    assert "png_matches_images True" in out
    assert "mirror-averaged True True" in out  # fit's default
    assert "expected shape [?,32,32,32]" in out
    assert "xmodal imported: False" in out


def test_signatures_take_empty_batches_any_png_and_reject_voxels_other_than_0_and_1(tiny_model, tmp_path):
    out = run_script(SERVING_INPUTS, tmp_path, tiny_model)
    assert "empty embed_voxels [('embedding', (0, 128))]" in out
    assert "empty embed_images [('embedding', (0, 128))]" in out
    assert "empty embed_png [('embedding', (0, 128))]" in out
    assert "empty serving_default [('image_embeddings', (0, 4, 128)), ('voxel_embedding', (0, 128))]" in out
    assert "voxels of 2 rejected: assertion failed: [voxels must be 0 or 1 (empty or filled)]" in out
    assert "transparent is white True not black True" in out
    assert "16-bit grey is its 8-bit value True not white True" in out
    assert "letterboxed on white True not stretched True" in out


def test_saved_model_cli_lists_the_signatures(tiny_model):
    cli = Path(sys.executable).parent / "saved_model_cli"
    done = subprocess.run([str(cli), "show", "--dir", tiny_model, "--all"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("embed_voxels", "embed_images", "embed_png", "serving_default"):
        assert f"signature_def['{name}']" in done.stdout
    assert "examples" in done.stdout and "embedding" in done.stdout


def test_keras_encoders_load_in_safe_mode(tiny_model):
    import keras

    for name in ("voxel_encoder", "image_encoder"):
        model = keras.saving.load_model(f"{tiny_model}/{name}.keras", safe_mode=True)
        assert model.output.shape[1:] == (128,)
