"""The model zoo: ``keras.applications`` (with Keras's weight files), torchvision's
architectures (with their state dicts), and the lecture's classic networks.

Each family is also a module, as in Keras: ``applications.resnet50.preprocess_input``,
``applications.wavenet.generate``, ...

Example:
    >>> from shinsou import applications
    >>> applications.LeNet5().count_params()
    61706
"""

from . import (
    cifar_resnet,
    conditional_gan,
    densenet,
    gan,
    imagenet_utils,
    inception_v3,
    lenet,
    mobilenet_v2,
    resnet,
    resnet50,
    resnet_v2,
    seq2seq,
    seq2seq_decoding,
    torchvision_models,
    unet,
    vgg16,
    vgg19,
    wavenet,
)
from .cifar_resnet import CIFARResNet, ResNet20, ResNet32, ResNet56, ResNet110
from .conditional_gan import ConditionalBatchNormalization, ConditionalGAN
from .densenet import DenseNet121, DenseNet169, DenseNet201
from .gan import DCGAN
from .inception_v3 import InceptionV3
from .lenet import LeNet5
from .mobilenet_v2 import MobileNetV2
from .resnet import ResNet50, ResNet101, ResNet152
from .resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from .seq2seq import (
    PositionalEmbedding,
    Transformer,
    TransformerDecoder,
    TransformerEncoder,
    positional_encoding,
)
from .seq2seq_decoding import beam_search_decode, greedy_decode
from .torchvision_models import from_torchvision
from .unet import UNet
from .vgg16 import VGG16
from .vgg19 import VGG19
from .wavenet import WaveNet, mu_law_decode, mu_law_encode

__all__ = [
    "DCGAN",
    "VGG16",
    "VGG19",
    "CIFARResNet",
    "ConditionalBatchNormalization",
    "ConditionalGAN",
    "DenseNet121",
    "DenseNet169",
    "DenseNet201",
    "InceptionV3",
    "LeNet5",
    "MobileNetV2",
    "PositionalEmbedding",
    "ResNet20",
    "ResNet32",
    "ResNet50",
    "ResNet50V2",
    "ResNet56",
    "ResNet101",
    "ResNet101V2",
    "ResNet110",
    "ResNet152",
    "ResNet152V2",
    "Transformer",
    "TransformerDecoder",
    "TransformerEncoder",
    "UNet",
    "WaveNet",
    "beam_search_decode",
    "cifar_resnet",
    "conditional_gan",
    "densenet",
    "from_torchvision",
    "gan",
    "greedy_decode",
    "imagenet_utils",
    "inception_v3",
    "lenet",
    "mobilenet_v2",
    "mu_law_decode",
    "mu_law_encode",
    "positional_encoding",
    "resnet",
    "resnet50",
    "resnet_v2",
    "seq2seq",
    "seq2seq_decoding",
    "torchvision_models",
    "unet",
    "vgg16",
    "vgg19",
    "wavenet",
]
