"""The lecture's case studies: object detection, segmentation and image generation.

- :mod:`~shinsou.vision.boxes`: box formats, IoU, non-maximum suppression, grid encoding;
- :mod:`~shinsou.vision.metrics`: detection mAP (COCO and Pascal VOC conventions), pixel
  accuracy and mean IoU for masks, the Fréchet distance between feature sets;
- :mod:`~shinsou.vision.detection`: :class:`YOLODetector`, a one-stage grid detector;
- :mod:`~shinsou.vision.segmentation` and :mod:`~shinsou.vision.transfer`: a U-Net recipe
  for per-pixel classes, and fine-tuning from an encoder pretrained on another task;
- :mod:`~shinsou.vision.generation` and :mod:`~shinsou.vision.generation_quality`: GANs on
  handwritten digits, sample grids while training, and a quality score;
- :mod:`~shinsou.vision.drawing`: pictures of boxes, masks and image grids (matplotlib,
  imported when first drawn).

The command line runs each case study end to end: ``shinsou detect``, ``shinsou segment``
and ``shinsou generate``.

Example:
    >>> from shinsou import vision
    >>> print(vision.iou([[0, 0, 10, 10]], [[5, 0, 15, 10]]).round(3))
    [[0.333]]
"""

from ..metrics import MeanIoU
from . import boxes, drawing, metrics
from .boxes import *  # noqa: F403
from .detection import *  # noqa: F403
from .drawing import *  # noqa: F403
from .generation import *  # noqa: F403
from .generation_quality import *  # noqa: F403
from .metrics import *  # noqa: F403
from .segmentation import *  # noqa: F403
from .transfer import *  # noqa: F403

__all__ = [
    "MeanIoU",
    "boxes",
    "drawing",
    "metrics",
    *boxes.__all__,
    *metrics.__all__,
    *drawing.__all__,
]
for _module_name in ("detection", "segmentation", "transfer", "generation", "generation_quality"):
    __all__ += globals()[_module_name].__all__
del _module_name
