"""The two encoders (Conv3D voxels, Conv2D images -> 128-d) and the XModal training model.

Presets are data: a table of pools, conv widths and fc widths per branch. Every layer is a
built-in Keras layer, so saved encoders load with `safe_mode=True` without importing xmodal.
Inputs are raw: voxels uint8 occupancy (B, R, R, R) in {0, 1}, images uint8 (B, S, S, 3);
the encoders one-hot the voxels and scale images to [0, 1] themselves.
"""
import dataclasses

import keras
import tensorflow as tf

from xmodal.losses import LOSSES, triplet_hinge

EMBEDDING_DIM = 128
LEAKY_SLOPE = 0.1


@dataclasses.dataclass(frozen=True)
class Branch:
    """One encoder: pool0 on the input, conv-lrelu-conv-lrelu-pool units, fc layers, then 128-d."""

    pool0: int
    widths: tuple[tuple[int, int], ...]  # filters of the two convs of each unit
    pools: tuple[int, ...]  # pool size after each unit
    fc: tuple[int, ...]  # hidden fc widths before the embedding layer


@dataclasses.dataclass(frozen=True)
class Preset:
    """Input resolutions and both branches."""

    voxel_res: int
    image_size: int
    voxel: Branch
    image: Branch


UNITS_2 = ((16, 32), (64, 128))
PRESETS = {
    "1-conv-1-fc": Preset(96, 486, Branch(3, UNITS_2[:1], (8,), ()), Branch(3, UNITS_2[:1], (27,), ())),
    "2-conv-1-fc": Preset(96, 486, Branch(3, UNITS_2, (2, 4), ()), Branch(3, UNITS_2, (3, 9), ())),
    "3-conv-1-fc": Preset(96, 486, Branch(3, UNITS_2 + ((128, 128),), (2, 2, 2), ()),
                          Branch(3, UNITS_2 + ((128, 128),), (3, 3, 3), ())),
    "2-conv-2-fc": Preset(96, 486, Branch(3, UNITS_2, (2, 4), (4096,)), Branch(3, UNITS_2, (3, 9), (4096,))),
    "small": Preset(32, 64, Branch(2, ((8, 16), (32, 32)), (2, 2), (256,)), Branch(2, ((8, 16), (32, 32)), (2, 4), (256,))),
}
PRESETS["paper"] = PRESETS["2-conv-2-fc"]  # Table 1
# The four candidates at CPU scale (32^3 voxels and 64^2 images, pool0 2, half widths, fc 512):
# the architectures experiment, the report's Figure 4 in about 30 CPU minutes.
UNITS_CPU = ((8, 16), (32, 64), (64, 64))
PRESETS.update({
    "cpu-1-conv-1-fc": Preset(32, 64, Branch(2, UNITS_CPU[:1], (4,), ()), Branch(2, UNITS_CPU[:1], (8,), ())),
    "cpu-2-conv-1-fc": Preset(32, 64, Branch(2, UNITS_CPU[:2], (2, 2), ()), Branch(2, UNITS_CPU[:2], (2, 4), ())),
    "cpu-3-conv-1-fc": Preset(32, 64, Branch(2, UNITS_CPU, (2, 2, 1), ()), Branch(2, UNITS_CPU, (2, 2, 2), ())),
    "cpu-2-conv-2-fc": Preset(32, 64, Branch(2, UNITS_CPU[:2], (2, 2), (512,)), Branch(2, UNITS_CPU[:2], (2, 4), (512,))),
})


def preset(name: str) -> Preset:
    """The preset called `name`; a ValueError lists the known ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    return PRESETS[name]


def head(x: keras.KerasTensor, branch: Branch, conv: type, pool: type, normalize: bool) -> keras.KerasTensor:
    """Units of conv-lrelu-conv-lrelu-pool, flatten, fc-lrelu layers and the float32 embedding (unit length if asked)."""
    for unit, ((a, b), size) in enumerate(zip(branch.widths, branch.pools), start=1):
        for part, filters in (("a", a), ("b", b)):
            x = conv(filters, 3, padding="same", kernel_initializer="he_normal", name=f"conv{unit}{part}")(x)
            x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"rect{unit}{part}")(x)
        x = pool(size, name=f"pool{unit}")(x)
    x = keras.layers.Flatten(name="flat")(x)
    for i, width in enumerate(branch.fc, start=len(branch.widths) + 1):
        x = keras.layers.Dense(width, kernel_initializer="he_normal", name=f"fc{i}")(x)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"rect{i}")(x)
    x = keras.layers.Dense(EMBEDDING_DIM, kernel_initializer="he_normal", dtype="float32", name="embedding")(x)
    return keras.layers.UnitNormalization(dtype="float32", name="l2_normalize")(x) if normalize else x


def voxel_encoder(p: Preset, channels: int = 2, normalize: bool = False) -> keras.Model:
    """Conv3D branch: uint8 occupancy (B, R, R, R) -> (B, 128); one-hot 2 channels (or 1)."""
    r = p.voxel_res
    voxels = keras.Input((r, r, r), dtype="uint8", name="voxels")
    x = keras.layers.Reshape((r, r, r, 1), name="channel")(voxels)
    x = keras.layers.Rescaling(1.0, name="filled")(x)  # (B, R, R, R, 1) float
    x = keras.layers.AveragePooling3D(p.voxel.pool0, name="pool0")(x)  # (B, R/p, R/p, R/p, 1)
    if channels == 2:  # pooling is linear: pool(1 - filled) == 1 - pool(filled)
        empty = keras.layers.Rescaling(-1.0, offset=1.0, name="empty")(x)
        x = keras.layers.Concatenate(name="one_hot")([empty, x])  # (B, R/p, R/p, R/p, 2)
    embedding = head(x, p.voxel, keras.layers.Conv3D, keras.layers.MaxPooling3D, normalize)
    return keras.Model(voxels, embedding, name="voxel_encoder")


def image_encoder(p: Preset, normalize: bool = False) -> keras.Model:
    """Conv2D branch: uint8 images (B, S, S, 3) -> (B, 128), pixels scaled to [0, 1]."""
    images = keras.Input((p.image_size, p.image_size, 3), dtype="uint8", name="images")
    x = keras.layers.Rescaling(1.0 / 255, name="scale")(images)
    x = keras.layers.AveragePooling2D(p.image.pool0, name="pool0")(x)
    embedding = head(x, p.image, keras.layers.Conv2D, keras.layers.MaxPooling2D, normalize)
    return keras.Model(images, embedding, name="image_encoder")


def build_encoders(name: str, voxel_channels: int = 2, normalize: bool = False) -> tuple[keras.Model, keras.Model]:
    """(voxel_encoder, image_encoder) of a preset; `normalize` ends both with an L2 normalisation."""
    p = preset(name)
    return voxel_encoder(p, voxel_channels, normalize), image_encoder(p, normalize)


class XModal(keras.Model):
    """Both encoders trained with one loss of `xmodal.losses`.

    Batches are either triplets {voxels, positive, negative}, trained with equation (1) exactly
    as the report, or P x K object views {voxels (P,...), images (P, K, ...)}, trained with a
    batch loss of `LOSSES` (labels: the object's position in the batch). A batch loss compares
    the pairs within each replica's share of the batch and is divided by the number of replicas,
    since the optimizer sums gradients across replicas.
    """

    def __init__(self, voxels: keras.Model, images: keras.Model, loss: str = "triplet", margin: float = 1.0,
                 temperature: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.voxel_encoder, self.image_encoder = voxels, images
        self.loss_name, self.margin, self.temperature = loss, margin, temperature
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, batch: dict, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """Embeddings of the voxels (N, 128) and of all images (M, 128), positives before negatives."""
        if "positive" in batch:
            pictures = tf.concat([batch["positive"], batch["negative"]], 0)  # (2B, S, S, 3)
        else:
            pictures = tf.reshape(batch["images"], tf.concat([[-1], tf.shape(batch["images"])[2:]], 0))  # (P*K, S, S, 3)
        return self.voxel_encoder(batch["voxels"], training=training), self.image_encoder(pictures, training=training)

    @property
    def metrics(self) -> list:
        return [self.loss_tracker]

    def batch_loss(self, batch: dict, training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        """(replica loss scaled for the global batch, plain loss of this replica's batch)."""
        voxels, images = self(batch, training=training)
        if "positive" in batch:
            positive, negative = tf.split(images, 2)
            per_triplet = triplet_hinge(voxels, positive, negative, self.margin)  # (B,)
            return tf.nn.compute_average_loss(per_triplet), tf.reduce_mean(per_triplet)
        objects = tf.shape(voxels)[0]
        views = tf.shape(images)[0] // objects
        loss = LOSSES[self.loss_name](voxels, tf.range(objects), images, tf.repeat(tf.range(objects), views),
                                      margin=self.margin, temperature=self.temperature)
        return loss / tf.distribute.get_strategy().num_replicas_in_sync, loss

    def train_step(self, data) -> dict:
        batch, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, plain = self.batch_loss(batch, training=True)
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.loss_tracker.reset_state()  # report the loss of this step, not a running mean
        self.loss_tracker.update_state(plain)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data) -> dict:
        batch, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        _, plain = self.batch_loss(batch, training=False)
        self.loss_tracker.update_state(plain)
        return {"loss": self.loss_tracker.result()}
