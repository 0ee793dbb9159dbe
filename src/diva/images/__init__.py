"""Container images: build the training and serving images, push them, smoke-test them.

The Dockerfiles are compiled by :mod:`diva.compiler.backends.docker`; this package drives the
Docker engine (:mod:`~diva.images.engine`), fetches the served model version from MLflow,
records pushed digests as gate evidence (:mod:`~diva.images.build`), runs the pipeline in
the training image (:mod:`~diva.images.train`) and probes a serving container
(:mod:`~diva.images.smoke`). Nothing here is imported by validate or compile.
"""

from __future__ import annotations

from diva.errors import UnavailableError


class ImageError(UnavailableError):
    """Building, pushing or running an image failed for a reason the user can fix."""


class EngineError(ImageError):
    """No Docker engine (or no client) is reachable."""


class BaseImageError(ImageError):
    """The standardized base image is neither local nor pullable."""


class RegistryError(ImageError):
    """The image registry refused a push or is unreachable."""
