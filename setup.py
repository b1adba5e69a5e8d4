"""xmodal: one embedding space for 3D voxel shapes and 2D images of them."""
import platform

from setuptools import find_packages, setup

TENSORFLOW = "tensorflow-cpu==2.21.*" if platform.machine() in ("x86_64", "AMD64") else "tensorflow==2.21.*"

setup(
    name="xmodal",
    version="0.1.0",
    description="Cross-domain deep encoding of 3D voxels and 2D images (TensorFlow 2.21, Keras 3).",
    packages=find_packages(include=["xmodal*", "tfrecords_tools*", "pipelines*"]),
    package_data={"tfrecords_tools": ["data/*.txt"], "xmodal": ["weights/*/*", "web/*"]},
    python_requires=">=3.10",
    install_requires=[
        TENSORFLOW,
        "keras>=3.15,<4",
        "tensorboard==2.21.*",
        "numpy>=1.26",
        "scipy>=1.11",
        "trimesh>=4.0",
        "pillow>=10",
        "scikit-learn>=1.3",
        "tqdm>=4.66",
        "moderngl>=5.10",
        "matplotlib>=3.8",
        "faiss-cpu>=1.9",
        "fastapi>=0.115",
        "uvicorn>=0.30",
        "python-multipart>=0.0.9",
    ],
    extras_require={
        "beam": ["apache-beam[tfrecord]>=2.60"],
        "dev": ["pytest>=8", "apache-beam[tfrecord]>=2.60", "selenium>=4.20"],
    },
)
