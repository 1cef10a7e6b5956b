"""Vision tasks of the lecture's case studies: boxes, detection, segmentation, metrics.

Example:
    >>> from shinsou import vision
    >>> vision.__name__
    'shinsou.vision'
"""
