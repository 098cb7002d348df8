"""Optics and sensor: blur, haze, colour cast, thin cloud, noise, JPEG, nodata,
band layout and bit depth. Applied to the composited linear picture."""

from __future__ import annotations

import cv2
import numpy as np

from .render import smooth_noise


def luminance(rgb):
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def nir_band(rgb):
    """NIR-ish: vegetation (green above red and blue) is bright, paint and steel follow luminance."""
    green_excess = np.clip(rgb[..., 1] - 0.5 * (rgb[..., 0] + rgb[..., 2]), 0, 60)
    return 0.6 * luminance(rgb) + 4.0 * green_excess


def _jpeg(img_u8, quality):
    if img_u8.ndim == 3 and img_u8.shape[2] == 3:
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img_u8[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img_u8), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def _coarser_detail(img, factor: float, blocky: bool):
    """The picture as a product upsampled from ``factor`` times coarser
    pixels: by pixel doubling (blocky) or by bilinear interpolation."""
    rows, cols = img.shape[:2]
    small = cv2.resize(img, (max(1, int(round(cols / factor))), max(1, int(round(rows / factor)))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (cols, rows), interpolation=cv2.INTER_NEAREST if blocky else cv2.INTER_LINEAR)


def apply_sensor(img, rng, cfg, bands: int, dtype: str, valid, meta: dict):
    rows, cols = img.shape[:2]
    sigma = float(rng.uniform(*cfg.blur_sigma_px))
    img = cv2.GaussianBlur(img, (0, 0), sigma)
    if cfg.coarse_detail_probability and rng.random() < cfg.coarse_detail_probability:
        img = _coarser_detail(img, float(rng.uniform(*cfg.coarse_detail_factor)), rng.random() < 0.5)
    sharpen = float(rng.uniform(0.2, 0.6)) if rng.random() < cfg.sharpen_probability else 0.0
    if sharpen:
        img = img + sharpen * (img - cv2.GaussianBlur(img, (0, 0), 1.5))
    contrast = float(rng.uniform(*cfg.contrast))
    mean = img.reshape(-1, 3).mean(0)
    img = (img - mean) * contrast + mean
    haze = float(rng.uniform(*cfg.haze))
    haze_rgb = np.array([178, 184, 196], np.float32)
    img = img * (1 - haze) + haze_rgb * haze
    cast = 1 + rng.uniform(-cfg.colour_cast, cfg.colour_cast, 3).astype(np.float32)
    img *= cast
    cloud = rng.random() < cfg.cloud_probability
    if cloud:
        blob = smooth_noise(rng, rows, cols, max(rows, cols) / 3.0)
        alpha = np.clip((blob - 0.6) * 0.5, 0, 0.55)[..., None]
        img = img * (1 - alpha) + np.array([225, 228, 232], np.float32) * alpha
    noise_sd = float(rng.uniform(*cfg.noise_sigma_dn))
    quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)) if cfg.jpeg_quality else None
    meta.update(blur_sigma_px=sigma, sharpen=sharpen, contrast=contrast, haze=haze, colour_cast=cast.tolist(), cloud=cloud, noise_sigma_dn=noise_sd,
                jpeg_quality=quality if dtype == "uint8" else None)

    if bands == 1:
        chans = luminance(img)[..., None]
    elif bands == 3:
        chans = img
    elif bands == 4:
        chans = np.concatenate([img, nir_band(img)[..., None]], axis=2)
    else:
        raise ValueError(f"bands must be 1, 3 or 4, got {bands!r}")
    chans = chans + rng.standard_normal(chans.shape, dtype=np.float32) * noise_sd

    if dtype == "uint8":
        out = np.clip(np.round(chans), 0, 255).astype(np.uint8)
        if quality is not None:
            if bands == 4:
                out = np.concatenate([_jpeg(out[..., :3], quality), _jpeg(out[..., 3], quality)[..., None]], axis=2)
            elif bands == 3:
                out = _jpeg(out, quality)
            else:
                out = _jpeg(out[..., 0], quality)[..., None]
    elif dtype == "uint16":
        # 11-bit like WorldView: 0-2047 with a dark offset
        out = np.clip(np.round(chans * 7.6 + 40), 0, 2047).astype(np.uint16)
    else:
        raise ValueError(f'dtype must be "uint8" or "uint16", got {dtype!r}')
    if valid is not None:
        out[~valid] = 0
    return out
