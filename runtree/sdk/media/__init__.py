"""The media a run logs (runtree.Image, Table, Histogram, ...), with wandb's constructors; encoded off the training thread."""

from runtree.sdk.media.av import Audio, Video
from runtree.sdk.media.base import Media
from runtree.sdk.media.documents import Html, Molecule, Object3D, Plotly
from runtree.sdk.media.image import Image
from runtree.sdk.media.table import Histogram, Table

__all__ = ["Audio", "Histogram", "Html", "Image", "Media", "Molecule", "Object3D", "Plotly", "Table", "Video"]
