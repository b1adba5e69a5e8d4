"""Headless rasterisation (OpenGL through EGL, Mesa llvmpipe on CPUs) with depth test and shading.

Only worker processes import this module: an EGL context and TensorFlow in one process clash
(both bring LLVM), so TensorFlow processes render through `tfrecords_tools.workers`.
"""
import functools

import moderngl
import numpy as np

from tfrecords_tools.meshes.load import Mesh
from tfrecords_tools.meshes.shots import PLAIN, Shot

NEAR, FAR = 0.05, 20.0
SAMPLES = 4  # multisample anti-aliasing: the alpha of an edge pixel is the share of its samples the object covers

VERTEX_SHADER = """
#version 330
uniform mat4 mvp;
uniform mat4 view;
in vec3 in_position;
in vec3 in_normal;
in vec3 in_color;
out vec3 v_position;
out vec3 v_normal;
out vec3 v_color;
void main() {
    gl_Position = mvp * vec4(in_position, 1.0);
    v_position = (view * vec4(in_position, 1.0)).xyz;
    v_normal = mat3(view) * in_normal;
    v_color = in_color;
}
"""
FRAGMENT_SHADER = """
#version 330
uniform vec3 lights[2];
uniform float intensities[2];
uniform float ambient;
uniform vec3 tint;
uniform float specular;
uniform float shininess;
in vec3 v_position;
in vec3 v_normal;
in vec3 v_color;
out vec4 color;
void main() {
    vec3 n = normalize(gl_FrontFacing ? v_normal : -v_normal);
    float shade = ambient + intensities[0] * max(dot(n, lights[0]), 0.0)
                  + intensities[1] * max(dot(n, lights[1]), 0.0);
    vec3 rgb = min(v_color * tint, 1.0) * shade;
    if (specular > 0.0) {
        for (int i = 0; i < 2; i++) {
            float facing = float(dot(n, lights[i]) > 0.0);
            vec3 half_way = normalize(lights[i] + normalize(-v_position));
            rgb += vec3(facing * specular * intensities[i] * pow(max(dot(n, half_way), 0.0), shininess));
        }
    }
    color = vec4(rgb, 1.0);
}
"""


def view_matrix(viewpoint: np.ndarray) -> np.ndarray:
    """World -> camera (4, 4) for (azimuth, elevation, in-plane rotation, distance); y is up.

    The camera sits at azimuth 0 on +x (facing the front of a car modelled along +x), azimuth
    grows toward +z, elevation lifts it above the x-z plane, and the in-plane rotation turns
    the picture counter-clockwise about the viewing direction.
    """
    azimuth, elevation, inplane = np.radians(viewpoint[:3])
    eye = viewpoint[3] * np.array([np.cos(elevation) * np.cos(azimuth), np.sin(elevation),
                                   np.cos(elevation) * np.sin(azimuth)])
    back = eye / np.linalg.norm(eye)  # camera +z points away from the scene
    right = np.cross([0.0, 1.0, 0.0], back)
    right = right / np.linalg.norm(right) if np.linalg.norm(right) > 1e-9 else np.array([0.0, 0.0, 1.0])
    up = np.cross(back, right)
    look = np.eye(4)
    look[:3, :3] = np.stack([right, up, back])
    look[:3, 3] = -look[:3, :3] @ eye
    roll = np.eye(4)
    roll[:2, :2] = [[np.cos(inplane), -np.sin(inplane)], [np.sin(inplane), np.cos(inplane)]]
    return roll @ look


def projection_matrix(shot: Shot = PLAIN) -> np.ndarray:
    """Camera -> clip space (4, 4): a square perspective frustum of the shot's field of view, the picture moved by
    its shift (a shear of clip x and y, so the view matrix keeps looking at the origin)."""
    f = 1.0 / np.tan(np.radians(shot.fov) / 2)
    x, y = shot.shift
    return np.array([[f, 0, -x, 0], [0, f, -y, 0],
                     [0, 0, (FAR + NEAR) / (NEAR - FAR), 2 * FAR * NEAR / (NEAR - FAR)], [0, 0, -1, 0]])


def project(points: np.ndarray, viewpoint: np.ndarray, size: int, shot: Shot = PLAIN) -> np.ndarray:
    """Pixel coordinates (N, 2) as (column, row from the top) of world points (N, 3) in a picture taken as `shot`."""
    clip = np.column_stack([points, np.ones(len(points))]) @ (projection_matrix(shot) @ view_matrix(viewpoint)).T
    ndc = clip[:, :2] / clip[:, 3:]
    return np.column_stack([(ndc[:, 0] + 1) / 2 * size, (1 - ndc[:, 1]) / 2 * size])


def triangle_soup(mesh: Mesh) -> np.ndarray:
    """Interleaved (3F, 9) float32: position, flat face normal, colour per triangle corner."""
    corners = mesh.vertices[mesh.faces]  # (F, 3, 3)
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    normals = np.repeat(normals[:, None], 3, axis=1)
    colors = mesh.colors[mesh.faces]
    return np.concatenate([corners, normals, colors], axis=2).reshape(-1, 9).astype(np.float32)


@functools.cache
def context() -> moderngl.Context:
    """This process's headless OpenGL context."""
    return moderngl.create_standalone_context(backend="egl")


class Renderer:
    """Renders meshes to (S, S, 4) uint8 RGBA images of one size."""

    def __init__(self, size: int):
        ctx = context()
        self.size = size
        self.program = ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        self.msaa = ctx.simple_framebuffer((size, size), samples=SAMPLES)
        self.resolved = ctx.simple_framebuffer((size, size))

    def render(self, mesh: Mesh, viewpoint: np.ndarray, background: np.ndarray, shot: Shot = PLAIN) -> np.ndarray:
        """One image (S, S, 4) uint8 of `mesh` seen from `viewpoint` as `shot`: RGB over a uniform `background` (3,)
        uint8, alpha the object's coverage (0 on the background only, 255 covered, between at anti-aliased edges)."""
        ctx = context()
        view = view_matrix(viewpoint)
        self.program["view"].write(view.T.astype(np.float32).tobytes())
        self.program["mvp"].write((projection_matrix(shot) @ view).T.astype(np.float32).tobytes())
        for name in ("lights", "intensities", "ambient", "tint", "specular", "shininess"):
            self.program[name].value = getattr(shot, name)
        buffer = ctx.buffer(triangle_soup(mesh).tobytes())
        array = ctx.vertex_array(self.program, [(buffer, "3f 3f 3f", "in_position", "in_normal", "in_color")])
        self.msaa.use()
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.CULL_FACE)
        self.msaa.clear(*(np.asarray(background) / 255.0), 0.0, depth=1.0)  # alpha 0: no object yet
        array.render(moderngl.TRIANGLES)
        ctx.copy_framebuffer(self.resolved, self.msaa)
        pixels = np.frombuffer(self.resolved.read(components=4, alignment=1), np.uint8)
        array.release()
        buffer.release()
        return pixels.reshape(self.size, self.size, 4)[::-1].copy()


@functools.cache
def renderer(size: int) -> Renderer:
    """This process's renderer for images of `size`."""
    return Renderer(size)
