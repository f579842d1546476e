"""The zoo's model families; importing this package registers each of them.

Builders import Keras inside themselves, so registering costs no TensorFlow.
"""

import kerazoo.lm.model  # noqa: F401  (the gpt family; KerasHub loads inside its builder)
from kerazoo.models import applications, cnn, mlp, resnet, transformer, vit  # noqa: F401
