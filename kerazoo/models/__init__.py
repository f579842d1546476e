"""The zoo's model families; importing this package registers each of them.

Builders import Keras inside themselves, so registering costs no TensorFlow.
"""

from kerazoo.models import cnn, mlp, resnet, transformer, vit  # noqa: F401
