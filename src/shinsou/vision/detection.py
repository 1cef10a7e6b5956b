"""A one-stage grid object detector, YOLO style: :class:`YOLODetector`.

The network maps an image to a grid of cells (one cell per ``stride`` × ``stride`` pixels);
each cell predicts ``5 + num_classes`` numbers: a box ``(tx, ty, tw, th)``, an objectness
logit and one logit per class. The box decodes as in :func:`shinsou.vision.boxes.decode_grid`:
its centre lies at ``(cell + 2·sigmoid(t) - 0.5) · stride`` (YOLOv5's mapping: the offset
spans (-0.5, 1.5), so a centre on a cell border is reachable without saturating a sigmoid),
and its size is ``exp(tw), exp(th)`` cells.

Training targets come from :func:`shinsou.vision.boxes.encode_grid`: each ground-truth box
belongs to the cell holding its centre. The loss (``compile`` brings it) sums

- **box**: ``1 - IoU + d² / c²`` (Distance-IoU: ``d`` is the distance between the two
  centres, ``c`` the diagonal of the smallest box holding both) over the cells that hold an
  object, averaged over them;
- **objectness**: binary cross-entropy of every cell's objectness logit against the IoU of
  its predicted box with its object (0 where there is none; the IoU does not take
  gradients), summed over cells and divided by the number of objects — so the objectness
  ranks detections by how well they are placed, which is what AP at strict IoU rewards;
- **class**: softmax cross-entropy of the class logits at the object cells, averaged.

``predict`` decodes every cell, scores each (cell, class) pair by ``sigmoid(objectness) ×
softmax(classes)``, keeps pairs above ``score_threshold`` and runs class-aware
non-maximum suppression (:func:`shinsou.vision.boxes.nms`) per image.

Example:
    >>> import numpy as np
    >>> detector = YOLODetector(num_classes=2, input_shape=(32, 32, 3), filters=4,
    ...                         head_filters=8)
    >>> detector.grid_shape, detector.stride
    ((8, 8), 4)
    >>> detector.compile(optimizer="adam")
    >>> images = np.zeros((4, 32, 32, 3), "float32")
    >>> targets = {"boxes": np.array([[[4, 4, 20, 20]]] * 4, "float32"),
    ...            "labels": np.array([[1]] * 4, "int32")}
    >>> sorted(detector.fit(images, targets, epochs=1, verbose=0).history)
    ['box_loss', 'class_loss', 'loss', 'objectness_loss']
    >>> sorted(detector.predict(images, verbose=0))
    ['boxes', 'labels', 'num_detections', 'scores']
"""

from __future__ import annotations

import math
import numbers

import numpy

from .. import layers, ops
from ..layers.core import check_image_shape, check_positive_int
from ..metrics import Mean
from ..models import Model
from ..saving import deserialize_keras_object, register_keras_serializable, serialize_keras_object
from ..tensor import Tensor
from . import boxes as box_utils

__all__ = ["YOLODetector", "default_backbone"]

# Objectness bias at initialization: sigmoid(-4.6) ~ 0.01, the share of cells holding an
# object, so the first steps are not spent pushing every cell's objectness down
# (Lin et al.'s prior-probability initialization, RetinaNet).
_OBJECTNESS_PRIOR_BIAS = -4.6
# Box size logits are clipped to exp(±_MAX_LOG_SIZE) cells: a wild early prediction must
# not overflow exp() (gradients stop where the clip bites, as for any clip).
_MAX_LOG_SIZE = 6.0
# Box size bias at initialization: boxes start 3 cells wide and high (12 pixels at stride
# 4, a typical object of the shapes scenes) rather than one cell, so early boxes overlap
# their objects and the IoU-based losses have gradients to follow from the first step.
_SIZE_PRIOR_BIAS = math.log(3.0)
_EPSILON = 1e-7
# Moving statistics of batch normalization follow the batches at PyTorch's default rate
# (Keras momentum 0.9 = torch momentum 0.1) rather than Keras's 0.99: with 0.99 they need
# several hundred steps to forget their initial values, and a detector trained for a
# short budget would predict from statistics it never had.
_BATCH_NORM_MOMENTUM = 0.9
# A box centre lies at (cell + offset) · stride with offset = 3·sigmoid(t) - 1 in (-1, 2):
# a cell of the 2×2 block nearest an object may have to reach half a cell beyond its own
# borders, and the targets must stay clear of the sigmoid's saturated ends.
_OFFSET_RANGE, _OFFSET_LOW = 3.0, 1.0


def _conv_bn_relu(x, filters, strides, name):
    x = layers.Conv2D(
        filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = layers.BatchNormalization(momentum=_BATCH_NORM_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def default_backbone(input_shape, filters=24, name="backbone"):
    """The detector's default feature extractor: a small CNN with an output stride of 4.

    Two stride-2 convolutions bring the image to a quarter of its size early (few channels
    on the large maps: that is where a CNN spends its time), a third goes to 1/8 for
    context, and the 1/8 map comes back up and joins the 1/4 map (a one-level feature
    pyramid). Every convolution is 3×3 + batch normalization + ReLU; ``filters`` sets the
    width (``filters``, ``2·filters``, ``4·filters`` channels by level).

    Returns a functional ``Model`` from images ``input_shape`` to features
    ``(height / 4, width / 4, 4·filters)``; height and width must be multiples of 8.

    Example:
        >>> backbone = default_backbone((64, 64, 3))
        >>> backbone.output_shape
        (None, 16, 16, 96)
    """
    check_positive_int("default_backbone", "filters", filters)
    height, width = _image_size("default_backbone", input_shape)
    if height % 8 or width % 8:
        raise ValueError(
            f"default_backbone: image height and width must be multiples of 8; received "
            f"input_shape={tuple(input_shape)}"
        )
    images = layers.Input(tuple(input_shape), name="images")
    x = _conv_bn_relu(images, filters, 2, "stem")  # 1/2
    x = _conv_bn_relu(x, 2 * filters, 2, "down4")  # 1/4
    fine = _conv_bn_relu(x, 2 * filters, 1, "level4")
    x = _conv_bn_relu(fine, 4 * filters, 2, "down8")  # 1/8: context for large objects
    x = _conv_bn_relu(x, 4 * filters, 1, "level8")
    x = layers.UpSampling2D(2, name="up4")(x)
    x = layers.Concatenate(name="merge4")([fine, x])
    features = _conv_bn_relu(x, 4 * filters, 1, "features")
    return Model(images, features, name=name)


def _image_size(caller, input_shape):
    return check_image_shape(caller, "input_shape", input_shape)[:2]


def _check_probability(argument, value, low_open=False):
    valid = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if valid:
        valid = (value > 0 if low_open else value >= 0) and value <= 1
    if not valid:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(
            f"YOLODetector: {argument} must be a number in {interval}; received "
            f"{argument}={value!r}"
        )
    return float(value)


def _check_weight(argument, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(
            f"YOLODetector.compile: {argument} must be a non-negative number; received "
            f"{argument}={value!r}"
        )
    return float(value)


def _as_numpy(value):
    return value.numpy() if isinstance(value, Tensor) else numpy.asarray(value)


def _is_ragged(value):
    """Whether ``value`` is a list/tuple of per-image arrays of different lengths (with
    equal lengths, per-image lists and a padded array are the same thing)."""
    if not isinstance(value, (list, tuple)):
        return False
    return len({numpy.shape(item)[:1] for item in value}) > 1


@register_keras_serializable(package="shinsou")
class YOLODetector(Model):
    """One-stage grid object detector (YOLO style) for images of ``input_shape``.

    Args:
        num_classes: number of object classes; labels are ``0 .. num_classes - 1``.
        input_shape: ``(height, width, channels)`` of the images.
        backbone: ``None`` for :func:`default_backbone` (stride 4), or a Keras layer or
            model that maps images ``(batch, height, width, channels)`` to a feature map
            ``(batch, height / s, width / s, features)`` with a whole stride ``s`` (the same
            on both axes); the grid is that map's size. It trains with the detector.
        filters: width of the default backbone (ignored with a ``backbone``). Width buys
            speed of learning here: on 3,000 scenes × 10 epochs with Adam at 1e-3, 16 gives
            AP 0.65 and 24 gives 0.72, for 1.6 times the compute.
        head_filters: channels of the head's 3×3 convolution.
        score_threshold: detections scoring below it are dropped by ``predict``.
        iou_threshold: IoU above which NMS suppresses a detection of the same class.
        max_detections: detections per image returned by ``predict`` (the padded size).

    ``compile(optimizer, box_loss_weight, objectness_loss_weight, classification_loss_weight)``
    brings the loss (see the module's notes). ``fit(images, {"boxes": (N, max_boxes, 4),
    "labels": (N, max_boxes)})`` takes xyxy pixel boxes with label -1 marking padding, or
    lists of per-image ``(k_i, 4)`` boxes and ``(k_i,)`` labels (``"classes"`` is accepted
    for ``"labels"``, as in KerasCV). Calling the model gives the raw grid
    ``(batch, rows, cols, 5 + num_classes)``; ``predict`` gives the detections: ``{"boxes":
    (N, K, 4) xyxy pixels, "labels": (N, K), "scores": (N, K), "num_detections": (N,)}``
    with ``K = max_detections``, best first, padded with -1.

    Example:
        >>> import numpy as np
        >>> detector = YOLODetector(num_classes=3, input_shape=(64, 64, 3))
        >>> detector.grid_shape, detector(np.zeros((2, 64, 64, 3), "float32")).shape
        ((16, 16), (2, 16, 16, 8))
    """

    def __init__(
        self,
        num_classes,
        input_shape,
        backbone=None,
        filters=24,
        head_filters=96,
        score_threshold=0.05,
        iou_threshold=0.5,
        max_detections=100,
        name="yolo_detector",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        check_positive_int("YOLODetector", "num_classes", num_classes)
        check_positive_int("YOLODetector", "filters", filters)
        check_positive_int("YOLODetector", "head_filters", head_filters)
        check_positive_int("YOLODetector", "max_detections", max_detections)
        height, width = _image_size("YOLODetector", input_shape)
        self.num_classes = num_classes
        self.image_shape = tuple(int(size) for size in input_shape)
        self.filters = filters
        self.head_filters = head_filters
        self.score_threshold = _check_probability("score_threshold", score_threshold)
        self.iou_threshold = _check_probability("iou_threshold", iou_threshold, low_open=True)
        self.max_detections = max_detections
        self.uses_default_backbone = backbone is None
        if backbone is None:
            backbone = default_backbone(self.image_shape, filters)
        elif not isinstance(backbone, layers.Layer):
            raise ValueError(
                f"YOLODetector: backbone must be None or a Keras layer or model; received "
                f"{backbone!r}"
            )
        self.backbone = backbone
        images = layers.Input(self.image_shape, name="images")
        features = backbone(images)
        self.grid_shape, self.stride = self._grid_of(features, height, width)
        self.head = self._build_head(features.shape[1:])
        self.built = True
        self._loss_weights = None
        self._box_tracker = Mean(name="box_loss")
        self._objectness_tracker = Mean(name="objectness_loss")
        self._class_tracker = Mean(name="class_loss")

    def _grid_of(self, features, height, width):
        shape = getattr(features, "shape", None)
        if shape is None or len(shape) != 4 or None in shape[1:]:
            raise ValueError(
                f"YOLODetector: the backbone must map images {self.image_shape} to a feature "
                f"map (batch, rows, cols, features); it returned shape {shape}"
            )
        rows, cols = int(shape[1]), int(shape[2])
        if height % rows or width % cols or height // rows != width // cols:
            raise ValueError(
                f"YOLODetector: the backbone's feature map {rows}×{cols} must divide the image "
                f"{height}×{width} by one whole stride on both axes"
            )
        return (rows, cols), height // rows

    def _build_head(self, feature_shape):
        features = layers.Input(tuple(feature_shape), name="features")
        x = _conv_bn_relu(features, self.head_filters, 1, "head")
        raw = layers.Conv2D(5 + self.num_classes, 1, name="predictions")(x)
        head = Model(features, raw, name="head")
        bias = numpy.zeros(5 + self.num_classes, numpy.float32)
        bias[2:4] = _SIZE_PRIOR_BIAS
        bias[4] = _OBJECTNESS_PRIOR_BIAS
        head.get_layer("predictions").bias.assign(bias)
        return head

    def call(self, inputs, training=None):
        """The raw grid ``(batch, rows, cols, 5 + num_classes)``: per cell ``tx, ty, tw, th``,
        the objectness logit and the class logits."""
        return self.head(self.backbone(inputs, training=training), training=training)

    # -- compile and the loss -------------------------------------------------------------
    def compile(
        self,
        optimizer="adam",
        box_loss_weight=5.0,
        objectness_loss_weight=1.0,
        classification_loss_weight=1.0,
        **kwargs,
    ):
        """Set the optimizer and the weights of the three loss terms (the detector brings
        its loss: passing ``loss=`` is an error)."""
        if kwargs.get("loss") is not None:
            raise ValueError(
                "YOLODetector.compile: the detector brings its own loss (box, objectness and "
                "class terms); set their weights with box_loss_weight, objectness_loss_weight "
                f"and classification_loss_weight instead of loss={kwargs['loss']!r}"
            )
        kwargs.pop("loss", None)
        weights = {
            "box_loss_weight": _check_weight("box_loss_weight", box_loss_weight),
            "objectness_loss_weight": _check_weight(
                "objectness_loss_weight", objectness_loss_weight
            ),
            "classification_loss_weight": _check_weight(
                "classification_loss_weight", classification_loss_weight
            ),
        }
        if kwargs.get("metrics") or kwargs.get("weighted_metrics"):
            raise ValueError(
                "YOLODetector.compile: Keras metrics do not apply to the raw grid; measure "
                "detections with shinsou.vision.metrics.mean_average_precision on predict()"
            )
        super().compile(optimizer=optimizer, **kwargs)
        self._loss_weights = weights

    def get_compile_config(self):
        config = super().get_compile_config()
        if config and self._loss_weights is not None:
            config.update(self._loss_weights)
        return config

    def compile_from_config(self, config):
        settings = dict(config)
        optimizer = deserialize_keras_object(settings.pop("optimizer", "adam"))
        weights = {key: settings[key] for key in settings if key.endswith("_loss_weight")}
        self.compile(optimizer=optimizer, **weights)
        if not getattr(self.optimizer, "built", True):
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        trackers = [self._box_tracker, self._objectness_tracker, self._class_tracker]
        return super().metrics + (trackers if self.compiled else [])

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """The running loss terms (the loss tracker and the three components)."""
        return self.get_metrics_result()

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The detection loss of raw grid predictions ``y_pred`` against padded targets
        ``y`` (encoded onto the grid here), plus any regularization losses."""
        if self._loss_weights is None:
            raise RuntimeError(
                "YOLODetector: call compile() before training or evaluating the detector"
            )
        if sample_weight is not None:
            raise ValueError("YOLODetector: sample_weight is not supported by the detection loss")
        true_boxes, true_labels = self._targets(y, len(y_pred))
        box_loss, objectness_loss, class_loss = self.detection_loss(true_boxes, true_labels, y_pred)
        batch = len(y_pred)
        self._box_tracker.update_state(box_loss.item(), sample_weight=batch)
        self._objectness_tracker.update_state(objectness_loss.item(), sample_weight=batch)
        self._class_tracker.update_state(class_loss.item(), sample_weight=batch)
        weights = self._loss_weights
        total = (
            weights["box_loss_weight"] * box_loss
            + weights["objectness_loss_weight"] * objectness_loss
            + weights["classification_loss_weight"] * class_loss
        )
        for penalty in self.losses:
            total = total + penalty
        return total

    def detection_loss(self, true_boxes, true_labels, raw):
        """``(box_loss, objectness_loss, class_loss)`` tensors for padded targets
        ``(N, B, 4)``, ``(N, B)`` and raw predictions ``(N, rows, cols, 5 + num_classes)``.

        Example:
            >>> detector = YOLODetector(2, (32, 32, 3), filters=4, head_filters=4)
            >>> raw = detector(numpy.zeros((1, 32, 32, 3), "float32"))
            >>> losses = detector.detection_loss([[[0, 0, 8, 8]]], [[1]], raw)
            >>> [round(loss.item(), 3) for loss in losses]  # doctest: +SKIP
            [0.742, 0.676, 0.693]
        """
        targets = self.encode_targets(true_boxes, true_labels)
        where = numpy.nonzero(targets["objectness"])
        count = len(where[0])
        objectness_target = numpy.zeros(targets["objectness"].shape, numpy.float32)
        objectness_logits = raw[..., 4]
        if count == 0:
            zero = ops.sum(raw[:0])
            objectness = ops.binary_crossentropy(
                objectness_target, objectness_logits, from_logits=True
            )
            return zero, ops.sum(objectness), zero
        picked = raw[where]  # (count, 5 + num_classes): the cells that hold an object
        cell = float(self.stride)
        corner = numpy.stack([where[2], where[1]], axis=-1).astype(numpy.float32)
        offset = _OFFSET_RANGE * ops.sigmoid(picked[:, :2]) - _OFFSET_LOW
        centre = (offset + corner) * cell
        size = ops.exp(ops.clip(picked[:, 2:4], -_MAX_LOG_SIZE, _MAX_LOG_SIZE)) * cell
        target = targets["boxes"][where]
        iou, penalty = _distance_iou(centre, size, target)
        box_loss = ops.mean(1.0 - iou + penalty)

        # The IoU reached is the objectness target: high scores for well-placed boxes.
        objectness_target[where] = numpy.clip(iou.numpy(), 0.0, 1.0)
        objectness = ops.binary_crossentropy(objectness_target, objectness_logits, from_logits=True)
        objectness_loss = ops.sum(objectness) / float(count)
        class_loss = ops.mean(
            ops.sparse_categorical_crossentropy(
                targets["labels"][where], picked[:, 5:], from_logits=True
            )
        )
        return box_loss, objectness_loss, class_loss

    def encode_targets(self, true_boxes, true_labels):
        """The grid targets of padded boxes ``(N, B, 4)`` and labels ``(N, B)``.

        Each object is assigned to the cell holding its centre and to the cells of the
        2×2 block whose centres lie nearest to it (YOLOv5's neighbour cells: four positives
        per object instead of one, which trains several times faster). The block comes
        from :func:`~shinsou.vision.boxes.encode_grid` applied to the boxes shifted by half
        a cell each way; a cell keeps the first object assigned to it, centre cells first.
        Returns ``{"objectness": (N, rows, cols) 0/1, "boxes": (N, rows, cols, 4) the
        assigned xyxy boxes (zeros elsewhere), "labels": (N, rows, cols), -1 elsewhere}``.

        Example:
            >>> detector = YOLODetector(2, (32, 32, 3), filters=4, head_filters=4)
            >>> targets = detector.encode_targets([[[9, 9, 15, 15]]], [[1]])
            >>> numpy.argwhere(targets["objectness"][0]).tolist()
            [[2, 2], [2, 3], [3, 2], [3, 3]]
            >>> targets["boxes"][0, 2, 3].tolist(), targets["labels"][0, 2, 3].item()
            ([9.0, 9.0, 15.0, 15.0], 1)
        """
        true_boxes = numpy.asarray(true_boxes, numpy.float32)
        true_labels = numpy.asarray(true_labels)
        half = self.stride / 2
        objectness = labels = assigned = None
        for shift_x, shift_y in (
            (0, 0),
            (-half, -half),
            (-half, half),
            (half, -half),
            (half, half),
        ):
            shift = numpy.array([shift_x, shift_y, shift_x, shift_y], numpy.float32)
            encoded = box_utils.encode_grid(
                true_boxes + shift, true_labels, self.image_shape, self.grid_shape
            )
            # Decoding gives back the shifted box exactly; unshifting gives the object.
            decoded = box_utils.decode_grid(encoded["boxes"], self.image_shape) - shift
            if objectness is None:
                objectness, labels, assigned = encoded["objectness"], encoded["labels"], decoded
                assigned *= objectness[..., None]
                continue
            free = (encoded["objectness"] > 0) & (objectness == 0)
            objectness[free] = 1.0
            labels[free] = encoded["labels"][free]
            assigned[free] = decoded[free]
        return {"objectness": objectness, "boxes": assigned, "labels": labels}

    # -- targets --------------------------------------------------------------------------
    def _targets(self, y, batch=None):
        """Padded ``(boxes (N, B, 4) float32, labels (N, B) int32)`` from ``y``, checked."""
        owner = f"YOLODetector '{self.name}'"
        if isinstance(y, dict) and "labels" not in y and "classes" in y:
            y = {"boxes": y["boxes"], "labels": y["classes"]}
        if not isinstance(y, dict) or "boxes" not in y or "labels" not in y:
            received = sorted(y) if isinstance(y, dict) else type(y).__name__
            raise ValueError(
                f"{owner}: targets must be a dict {{'boxes': (N, max_boxes, 4), 'labels': "
                f"(N, max_boxes)}} (xyxy pixels, label -1 = padding); received {received}"
            )
        true_boxes, true_labels = y["boxes"], y["labels"]
        if _is_ragged(true_boxes) or _is_ragged(true_labels):
            true_boxes, true_labels = box_utils.pad_boxes(true_boxes, true_labels)
        true_boxes = _as_numpy(true_boxes)
        true_labels = _as_numpy(true_labels)
        if (
            true_boxes.ndim != 3
            or true_boxes.shape[-1] != 4
            or true_labels.shape != true_boxes.shape[:2]
        ):
            raise ValueError(
                f"{owner}: expected boxes of shape (N, max_boxes, 4) and labels of shape "
                f"(N, max_boxes); received {true_boxes.shape} and {true_labels.shape}"
            )
        if batch is not None and len(true_boxes) != batch:
            raise ValueError(
                f"{owner}: {len(true_boxes)} target rows for a batch of {batch} images"
            )
        if true_labels.dtype.kind == "f" and not numpy.all(true_labels == numpy.round(true_labels)):
            raise ValueError(f"{owner}: labels must be whole class numbers")
        true_labels = true_labels.astype(numpy.int32, copy=False)
        if true_labels.size and (true_labels.min() < -1 or true_labels.max() >= self.num_classes):
            raise ValueError(
                f"{owner}: labels must lie in [0, {self.num_classes}) (num_classes="
                f"{self.num_classes}), or be -1 for padding; received values from "
                f"{true_labels.min()} to {true_labels.max()}"
            )
        true_boxes = true_boxes.astype(numpy.float32, copy=False)
        valid = true_labels >= 0
        if not numpy.isfinite(true_boxes[valid]).all():
            raise ValueError(f"{owner}: boxes must be finite numbers")
        return true_boxes, true_labels

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """Keras's ``fit``; ``y`` holds the padded (or per-image) boxes and labels."""
        if y is not None:
            y = dict(zip(("boxes", "labels"), self._targets(y)))
        validation_data = kwargs.get("validation_data")
        if isinstance(validation_data, (tuple, list)) and len(validation_data) >= 2:
            targets = dict(zip(("boxes", "labels"), self._targets(validation_data[1])))
            kwargs["validation_data"] = (validation_data[0], targets, *validation_data[2:])
        return super().fit(x, y, batch_size, epochs, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """Keras's ``evaluate``: the loss terms on ``(images, targets)``."""
        if y is not None:
            y = dict(zip(("boxes", "labels"), self._targets(y)))
        return super().evaluate(x, y, batch_size, **kwargs)

    # -- predictions ----------------------------------------------------------------------
    def predict_step(self, data):
        """Detections for a batch: the raw grid decoded, thresholded and NMS-filtered."""
        return self.decode_predictions(super().predict_step(data))

    def decode_predictions(self, raw):
        """Detections from raw grid predictions ``(N, rows, cols, 5 + num_classes)``.

        Every (cell, class) pair scores ``sigmoid(objectness) · softmax(classes)``; pairs
        scoring at least ``score_threshold`` go through class-aware NMS per image. Returns
        ``{"boxes": (N, K, 4) xyxy pixels clipped to the image, "labels": (N, K) int32,
        "scores": (N, K) float32, "num_detections": (N,) int32}``, ``K = max_detections``,
        best first; padding rows hold -1.

        Example:
            >>> detector = YOLODetector(2, (32, 32, 3), filters=4, head_filters=4)
            >>> raw = numpy.full((1, 8, 8, 7), -9.0, "float32")
            >>> raw[0, 2, 3] = [0, 0, 1, 1, 9, 9, -9]  # one object of class 0 in cell (2, 3)
            >>> found = detector.decode_predictions(raw)
            >>> found["num_detections"].tolist(), found["labels"][0, :2].tolist()
            ([1], [0, -1])
            >>> print(found["boxes"][0, 0].round(2))
            [ 8.56  4.56 19.44 15.44]
        """
        raw = _as_numpy(raw).astype(numpy.float32, copy=False)
        expected = (*self.grid_shape, 5 + self.num_classes)
        if raw.ndim != 4 or raw.shape[1:] != expected:
            raise ValueError(
                f"YOLODetector.decode_predictions: expected raw predictions of shape (N, "
                f"{', '.join(map(str, expected))}); received {raw.shape}"
            )
        count = len(raw)
        offsets = _OFFSET_RANGE / (1.0 + numpy.exp(-raw[..., :2])) - _OFFSET_LOW
        log_sizes = numpy.clip(raw[..., 2:4], -_MAX_LOG_SIZE, _MAX_LOG_SIZE)
        decoded = box_utils.decode_grid(
            numpy.concatenate([offsets, log_sizes], axis=-1), self.image_shape
        )
        decoded = box_utils.clip_boxes(decoded, self.image_shape).reshape(count, -1, 4)
        objectness = 1.0 / (1.0 + numpy.exp(-raw[..., 4:5]))
        logits = raw[..., 5:] - raw[..., 5:].max(axis=-1, keepdims=True)
        probabilities = numpy.exp(logits)
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
        scores = (objectness * probabilities).reshape(count, -1)  # (N, cells · classes)

        limit = self.max_detections
        out_boxes = numpy.full((count, limit, 4), -1.0, numpy.float32)
        out_labels = numpy.full((count, limit), -1, numpy.int32)
        out_scores = numpy.full((count, limit), -1.0, numpy.float32)
        out_counts = numpy.zeros(count, numpy.int32)
        for image in range(count):
            candidates = numpy.flatnonzero(scores[image] >= self.score_threshold)
            if len(candidates) > _MAX_CANDIDATES:  # NMS cost grows with the square
                best = numpy.argpartition(-scores[image, candidates], _MAX_CANDIDATES)
                candidates = candidates[best[:_MAX_CANDIDATES]]
            cells, classes = numpy.divmod(candidates, self.num_classes)
            kept = box_utils.nms(
                decoded[image, cells],
                scores[image, candidates],
                iou_threshold=self.iou_threshold,
                max_outputs=limit,
                labels=classes,
            )
            found = len(kept)
            out_boxes[image, :found] = decoded[image, cells[kept]]
            out_labels[image, :found] = classes[kept]
            out_scores[image, :found] = scores[image, candidates[kept]]
            out_counts[image] = found
        return {
            "boxes": out_boxes,
            "labels": out_labels,
            "scores": out_scores,
            "num_detections": out_counts,
        }

    # -- configuration --------------------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "input_shape": list(self.image_shape),
            "backbone": None
            if self.uses_default_backbone
            else serialize_keras_object(self.backbone),
            "filters": self.filters,
            "head_filters": self.head_filters,
            "score_threshold": self.score_threshold,
            "iou_threshold": self.iou_threshold,
            "max_detections": self.max_detections,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("backbone"), dict):
            config["backbone"] = deserialize_keras_object(
                config["backbone"], custom_objects=custom_objects
            )
        return cls(**config)


# Pairs (cell, class) kept for NMS per image at most: plenty for small grids, and a bound
# on NMS's quadratic cost for large ones.
_MAX_CANDIDATES = 1000


def _distance_iou(centre, size, target):
    """IoU and the Distance-IoU penalty ``d² / c²`` of predicted boxes (``centre``, ``size``
    tensors ``(P, 2)``) against xyxy targets ``(P, 4)`` (an array)."""
    half = size * 0.5
    low, high = centre - half, centre + half
    target_low, target_high = target[:, :2], target[:, 2:]
    overlap = ops.relu(ops.minimum(high, target_high) - ops.maximum(low, target_low))
    intersection = overlap[:, 0] * overlap[:, 1]
    target_area = (target_high - target_low).prod(axis=-1)
    union = size[:, 0] * size[:, 1] + target_area - intersection
    iou = intersection / (union + _EPSILON)
    enclosing = ops.maximum(high, target_high) - ops.minimum(low, target_low)
    diagonal = ops.sum(enclosing * enclosing, axis=-1) + _EPSILON
    offset = centre - (target_low + target_high) * 0.5
    return iou, ops.sum(offset * offset, axis=-1) / diagonal
