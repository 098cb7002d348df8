"""The scorer's numpy network and its patches (no QGIS, no PyTorch)."""

import numpy as np

from railwatch_plugin.core.car_scorer import (ENSEMBLE_PATHS, CarScorer, ScorerEnsemble, _conv3x3_relu_pool,
                                              load_ensemble, load_scorer)
from railwatch_plugin.core.describe import kind_from_logits
from railwatch_plugin.core.hypothesis_cues import CUE_NAMES
from railwatch_plugin.core.patches import PATCH_COLS, PATCH_ROWS, hypothesis_patches, sample_strip


def naive_conv_relu_pool(x, w, b):
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = np.zeros((n, w.shape[0], h, wd))
    for o in range(w.shape[0]):
        for i in range(h):
            for j in range(wd):
                y[:, o, i, j] = (xp[:, :, i : i + 3, j : j + 3] * w[o]).sum(axis=(1, 2, 3)) + b[o]
    y = np.maximum(y, 0)
    return y.reshape(n, -1, h // 2, 2, wd // 2, 2).max(axis=(3, 5))


def test_numpy_convolution_matches_the_definition():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 6, 8)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    got = _conv3x3_relu_pool(x.transpose(0, 2, 3, 1), w, b).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, naive_conv_relu_pool(x, w, b), rtol=1e-4, atol=1e-4)


def test_shipped_weights_load_and_score_in_zero_to_one():
    scorer = load_scorer()
    assert scorer is not None, "railwatch_plugin/core/car_scorer.npz is missing"
    rng = np.random.default_rng(1)
    p = scorer.probability(rng.normal(size=(5, 3, PATCH_ROWS, PATCH_COLS)).astype(np.float32),
                           rng.normal(size=(5, len(CUE_NAMES))).astype(np.float32))
    assert p.shape == (5,) and np.all((p >= 0) & (p <= 1))


def test_the_detector_scores_with_both_shipped_members_averaged_in_logit():
    ensemble = load_ensemble()
    assert ensemble is not None and len(ensemble.members) == len(ENSEMBLE_PATHS) == 2
    rng = np.random.default_rng(2)
    patches = rng.normal(size=(6, 3, PATCH_ROWS, PATCH_COLS)).astype(np.float32)
    cues = rng.normal(size=(6, len(CUE_NAMES))).astype(np.float32)
    first, second = (m.logit(patches, cues) for m in ensemble.members)
    assert not np.allclose(first, second, atol=1e-3), "the two members are the same network"
    np.testing.assert_allclose(ensemble.logit(patches, cues), 0.5 * (first + second), rtol=1e-5, atol=1e-5)


def test_a_patch_puts_the_car_ends_on_the_same_columns_whatever_its_length():
    g = 0.5
    image = np.full((60, 200, 3), 100.0, np.float32)
    image[27:33, 40:70] = 200.0  # a 15 m car
    image[27:33, 100:160] = 200.0  # a 30 m car
    strip = sample_strip(image, lambda c: np.full(np.shape(c), 29.5), 0, 200, g)
    patches, stats = hypothesis_patches(strip, np.array([40.0, 100.0]), np.array([70.0, 160.0]))
    assert patches.shape == (2, 3, PATCH_ROWS, PATCH_COLS)
    lum = patches[:, 0, PATCH_ROWS // 2]
    on = lum > lum.mean(axis=1, keepdims=True)
    for row in on:
        cols = np.nonzero(row)[0]
        assert abs(cols[0] - PATCH_COLS / 6) <= 1.5 and abs(cols[-1] + 1 - 5 * PATCH_COLS / 6) <= 1.5
    assert stats[0, 1] > 100.0  # mean luminance kept apart from the normalised patch


def test_one_band_images_get_empty_colour_channels():
    strip = sample_strip(np.full((40, 50), 80.0, np.float32), lambda c: np.full(np.shape(c), 20.0), 0, 50, 0.5)
    assert strip.shape[2] == 3 and np.all(strip[:, :, 1:] == 0)


def test_opencv_convolutions_match_the_numpy_reference():
    scorer = load_scorer()
    rng = np.random.default_rng(2)
    patches = rng.normal(size=(7, 3, PATCH_ROWS, PATCH_COLS)).astype(np.float32)
    assert scorer._conv_net(patches.shape[1:]) is not None, "cv2.dnn network not built: scoring falls back to numpy"
    np.testing.assert_allclose(scorer.conv_features(patches), scorer.numpy_conv_features(patches), rtol=1e-4, atol=1e-4)


def test_a_darknet_net_that_disagrees_with_numpy_is_refused():
    from railwatch_plugin.core.conv_net import build_conv_net, matches_reference

    scorer = load_scorer()
    convs = [(scorer.w[f"conv{i}_w"], scorer.w[f"conv{i}_b"]) for i in range(3)]
    swapped = [(w[:, ::-1].copy(), b) for w, b in convs]  # input channels in the wrong order
    shape = (3, PATCH_ROWS, PATCH_COLS)
    assert matches_reference(build_conv_net(convs), scorer.numpy_conv_features, shape)
    assert not matches_reference(build_conv_net(swapped), scorer.numpy_conv_features, shape)


def random_scorer(seed, with_kind_head, kind_names=("box", "tank", "covered")):
    rng = np.random.default_rng(seed)
    w = {"cue_mean": np.zeros(len(CUE_NAMES)), "cue_std": np.ones(len(CUE_NAMES)), "shift": np.float32(0.0)}
    chans = [3, 4, 4, 4]
    for i in range(3):
        w[f"conv{i}_w"] = rng.normal(size=(chans[i + 1], chans[i], 3, 3)) * 0.3
        w[f"conv{i}_b"] = rng.normal(size=chans[i + 1]) * 0.1
    flat = chans[-1] * (PATCH_ROWS // 8) * (PATCH_COLS // 8)
    w["fc0_w"], w["fc0_b"] = rng.normal(size=(8, flat + len(CUE_NAMES))) * 0.2, np.zeros(8)
    w["fc1_w"], w["fc1_b"] = rng.normal(size=(1, 8)), np.zeros(1)
    if with_kind_head:
        w["kind_w"], w["kind_b"] = rng.normal(size=(len(kind_names), 8)), rng.normal(size=len(kind_names))
    return CarScorer(w, CUE_NAMES, use_dnn=False, kind_names=kind_names)


def test_the_kind_head_reads_the_same_hidden_layer_as_the_score():
    scorer = random_scorer(3, with_kind_head=True)
    rng = np.random.default_rng(4)
    patches = rng.normal(size=(5, 3, PATCH_ROWS, PATCH_COLS)).astype(np.float32)
    cues = rng.normal(size=(5, len(CUE_NAMES))).astype(np.float32)
    logit, kinds = scorer.forward(patches, cues)
    h = np.concatenate([scorer.numpy_conv_features(patches), cues], axis=1)
    h = np.maximum(h @ scorer.w["fc0_w"].T + scorer.w["fc0_b"], 0.0)
    np.testing.assert_allclose(logit, (h @ scorer.w["fc1_w"].T).ravel(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(kinds, h @ scorer.w["kind_w"].T + scorer.w["kind_b"], rtol=1e-4, atol=1e-4)


def test_the_ensemble_scores_with_its_members_and_names_kinds_with_its_kind_network():
    member_a, member_b, kind_net = random_scorer(5, False), random_scorer(6, False), random_scorer(8, True)
    assert member_a.kind_names == ()
    ensemble = ScorerEnsemble([member_a, member_b], kind_member=kind_net)
    rng = np.random.default_rng(7)
    patches = rng.normal(size=(4, 3, PATCH_ROWS, PATCH_COLS)).astype(np.float32)
    cues = rng.normal(size=(4, len(CUE_NAMES))).astype(np.float32)
    # The kind network does not score: only the members' logits are averaged.
    np.testing.assert_allclose(ensemble.logit(patches, cues),
                               0.5 * (member_a.logit(patches, cues) + member_b.logit(patches, cues)), rtol=1e-5)
    np.testing.assert_allclose(ensemble.kind_logits(patches, cues), kind_net.forward(patches, cues)[1], rtol=1e-6)
    assert ensemble.kind_names == ("box", "tank", "covered")
    without = ScorerEnsemble([member_a], kind_member=member_b)  # a network with no kind head names nothing
    assert without.kind_names == () and without.kind_logits(patches, cues) is None


def test_a_kind_is_named_only_when_it_is_likely_enough():
    names = ("box", "tank", "covered")
    assert kind_from_logits(np.array([0.0, 3.0, 0.0]), names) == "tank"
    assert kind_from_logits(np.array([1.0, 1.0, 1.0]), names) == "unknown"  # a third each


def test_the_shipped_ensemble_names_every_drawn_kind_with_a_network_that_does_not_score():
    ensemble = load_ensemble()
    assert ensemble.kind_names == ("box", "tank", "hopper/gondola", "flat/container", "covered")
    assert all(m.kind_names == () for m in ensemble.members)
