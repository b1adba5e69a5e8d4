import subprocess
import sys
import textwrap
from pathlib import Path

BLOCKED_LOAD = textwrap.dedent("""
    import sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("xmodal", "tfrecords_tools"):
                raise ImportError(f"{name} is blocked in this process")

    sys.meta_path.insert(0, Blocker())
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
    try:
        model.signatures["embed_voxels"](voxels=tf.zeros((1, 16, 16, 16), tf.uint8))
    except tf.errors.InvalidArgumentError as error:
        print("wrong shape:", error.message.splitlines()[0])
    print("xmodal imported:", "xmodal" in sys.modules)
""")


def test_savedmodel_loads_and_serves_without_xmodal(tiny_model, tiny_data, tmp_path):
    script = tmp_path / "load.py"
    script.write_text(BLOCKED_LOAD)
    shard = str(sorted(Path(tiny_data).glob("test-*.tfrecord"))[0])
    done = subprocess.run([sys.executable, str(script), tiny_model, shard], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "shapes (2, 128) (3, 128) (2, 128) (3, 128) (3, 4, 128)" in out
    assert "png_matches_images True" in out
    assert "expected shape [?,32,32,32]" in out
    assert "xmodal imported: False" in out


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
