# An independent Lanczos-3 resize in numpy (separable; when shrinking, the kernel is stretched by the scale
# factor, as PIL does), the reference for our decode + resize path.
import numpy as np


def _lanczos(x, a=3.0):
    x = np.abs(x)
    return np.where(x < a, np.sinc(x) * np.sinc(x / a), 0.0)


def _weights(n_in, n_out):
    scale = n_in / n_out
    stretch = max(scale, 1.0)
    support = 3.0 * stretch
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) * scale
        for j in range(int(np.floor(centre - support)), int(np.ceil(centre + support)) + 1):
            w[i, min(max(j, 0), n_in - 1)] += _lanczos((j + 0.5 - centre) / stretch)
        w[i] /= w[i].sum()
    return w


def lanczos3(image, height, width):
    """image: H×W×C uint8 → height×width×C float64 (unrounded)."""
    return np.einsum('yi,ijc,xj->yxc', _weights(image.shape[0], height), image.astype(np.float64), _weights(image.shape[1], width))
