"""Mutation check: do the tests catch plausible bugs?

Each mutation below is a one-line text substitution in one file of the package: a bug that a
careless edit could plausibly introduce (a wrong scale, a dropped term, an off-by-one). For each
one, this script copies ``skntk/`` and ``tests/`` to a temporary folder, applies the
substitution there (the working tree is never touched), runs the tests named for it and reports
whether they fail, i.e. whether the bug is *caught*.

The substitutions are plain text so that they are easy to update when code moves: if the old
text no longer occurs exactly once in its file, the mutation is reported as ``stale`` (and
``tests/test_mutation_check.py`` fails in CI, so the list cannot silently rot).

Usage::

    python tools/mutation_check.py               # every mutation, a markdown table at the end
    python tools/mutation_check.py --list        # names, files and categories only
    python tools/mutation_check.py --only srht-scale-input-dim --only hermite-coef-x1.5
    python tools/mutation_check.py --baseline    # first check the selected tests pass unmutated

A mutation counts as caught only when pytest reports failing tests (exit code 1); a collection
error or a crash (exit code 2 or more) is reported separately, since it says nothing about the
tests' power. Tests marked ``xfail`` (known, documented defects) are not run: a mutation
that happens to make a known-biased case pass is no evidence of the tests' power.
``category`` says which level of test must catch it: ``sketch`` bugs must be caught by a
sketch-level test (an estimator or sketching primitive compared with the exact kernel or with
statistics), ``exact`` bugs by the exact-kernel tests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    """One plausible bug: replace ``old`` (which must occur exactly once) by ``new`` in ``file``.

    ``tests`` are pytest node ids or files (relative to the repository root), optionally with
    a ``-k`` expression after ``::-k``; they are the CI tests expected to catch the bug.
    """

    name: str
    category: str  # "sketch" or "exact"
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str = ""


# fmt: off
_EXACT_IMAGE_TESTS = ("tests/test_reference_cntk.py",
                      "tests/test_kernels.py::-k conv_kernels_match_reference")
_FC_TESTS = "tests/test_fully_connected.py::-k accuracy or unbiased or zero_rows"
_RF_TESTS = ("tests/test_random_features.py::-k accuracy or unbiased or zero_rows or centred "
             "or conditional_means or bias_falls or leverage_estimator")
_CNTK_TESTS = ("tests/test_convolutional.py::-k accuracy or unbiased or zero_images or "
               "heavy_tailed or error_falls")
MUTATIONS: tuple[Mutation, ...] = (
    # -- sketching primitives (skntk/sketching.py) -------------------------------------------
    Mutation("srht-scale-input-dim", "sketch", "skntk/sketching.py",
             "self.scale_ = float(np.sqrt(self.fft_len / self.output_dim))",
             "self.scale_ = float(np.sqrt(self.input_dim / self.output_dim))",
             ("tests/test_sketching.py",),
             "SRHT scale from the input dimension instead of the padded transform length"),
    Mutation("srht-fft-len-off-by-one", "sketch", "skntk/sketching.py",
             "return scipy.fft.next_fast_len(dim, real=True)",
             "return scipy.fft.next_fast_len(dim - 1, real=True)",
             ("tests/test_sketching.py",),
             "transform length one short of the input dimension"),
    Mutation("srht-dct-norm0", "sketch", "skntk/_backend.py",
             "norm[0] = np.sqrt(1.0 / N)", "norm[0] = np.sqrt(2.0 / N)",
             ("tests/test_sketching.py",),
             "DC coefficient of the orthonormal DCT (array-API path) not normalized"),
    Mutation("srht-sample-population-minus-one", "sketch", "skntk/sketching.py",
             "drawn = sample_without_replacement(population, rest, random_state=rng)",
             "drawn = sample_without_replacement(population - 1, rest, random_state=rng)",
             ("tests/test_sketching.py",),
             "coordinate sampling never picks the last coordinate"),
    Mutation("countsketch-scale-x1.025", "sketch", "skntk/sketching.py",
             "data = self.signs.ravel().astype(dtype)",
             "data = 1.025 * self.signs.ravel().astype(dtype)",
             ("tests/test_sketching.py",), "CountSketch scaled by 1.025"),
    Mutation("countsketch-unsigned", "sketch", "skntk/sketching.py",
             "self.hashing_ = _Hashing(buckets, _random_signs(rng, (1, self.input_dim)), "
             "self.output_dim)",
             "self.hashing_ = _Hashing(buckets, np.ones((1, self.input_dim)), self.output_dim)",
             ("tests/test_sketching.py",), "CountSketch without random signs (biased)"),
    Mutation("tensorsrht-scale-x1.05", "sketch", "skntk/sketching.py",
             "scale = np.full(m, np.sqrt(len_a * len_b / m))",
             "scale = np.full(m, np.sqrt(1.05 * len_a * len_b / m))",
             ("tests/test_sketching.py",), "TensorSRHT / PolySketch node scale off by 5%"),
    Mutation("tensorsrht-pair-index", "sketch", "skntk/sketching.py",
             "j = cols[(t + t // math.lcm(len_a, len_b)) % len_b]",
             "j = rows[(t + t // math.lcm(len_a, len_b)) % len_a]",
             ("tests/test_sketching.py",),
             "TensorSRHT's second coordinates drawn from the first factor's range"),
    Mutation("tensorsrht-pairs-unbalanced", "sketch", "skntk/sketching.py",
             "i = rows[t % len_a]",
             "i = rng.randint(len_a, size=m)",
             ("tests/test_sketching.py",),
             "TensorSRHT's first coordinates drawn independently (unbalanced; still unbiased)"),
    Mutation("tensorsrht-flat-vector-x0.9", "sketch", "skntk/sketching.py",
             "return v, mixed[self.plan_[factor]] - 1.0 / math.sqrt(N)",
             "return v, mixed[self.plan_[factor]] - 0.9 / math.sqrt(N)",
             ("tests/test_sketching.py",),
             "flattened TensorSRHT: the flat vector 10% short (biased along the direction)"),
    Mutation("flatten-second-factor-with-first", "sketch", "skntk/sketching.py",
             "out *= self._flattened(np.take(Zb, ib, axis=1, mode=\"clip\"), B, "
             "self.flat_second_, np,",
             "out *= self._flattened(np.take(Zb, ib, axis=1, mode=\"clip\"), A, "
             "self.flat_second_, np,",
             ("tests/test_sketching.py",),
             "flattened TensorSRHT: the second factor's coordinate read from the first factor"),
    Mutation("tensorsketch-scale-x1.025", "sketch", "skntk/sketching.py",
             "spectrum = _rfft_rows(Ca, xp, is_np) * _rfft_rows(Cb, xp, is_np)",
             "spectrum = 1.025 * _rfft_rows(Ca, xp, is_np) * _rfft_rows(Cb, xp, is_np)",
             ("tests/test_sketching.py",), "TensorSketch scaled by 1.025"),
    Mutation("polysketch-leaf-scale-leaf-dim", "sketch", "skntk/sketching.py",
             "float(np.sqrt(self.leaf_fft_len / output_dims[0]))",
             "float(np.sqrt(self.leaf_dim / output_dims[0]))",
             ("tests/test_sketching.py",),
             "PolySketch degree-1 scale from the leaf dimension, not the padded length"),
    Mutation("polysketch-hash-unsigned", "sketch", "skntk/sketching.py",
             "signs = _random_signs(rng, (p, d)) * np.take_along_axis(leaf_signs, buckets, "
             "axis=1)",
             "signs = np.take_along_axis(leaf_signs, buckets, axis=1)",
             ("tests/test_sketching.py",), "PolySketch hashed leaves without their own signs"),
    # -- Hermite coefficients and the shared layer-wise Hermite sketch (skntk/_hermite.py,
    #    steps.py, planning.py, architectures.py; NTKSketch/NNGPSketch method="hermite" and
    #    CNTKSketch all run through it) ------------------------------------------------------
    Mutation("hermite-coef-r1-x1.5", "sketch", "skntk/_hermite.py",
             "out = [_fold_tail(act.hermite_coefficients(s, extra), np.asarray(e_act), degree)]",
             "out = [_fold_tail(act.hermite_coefficients(s, extra) * np.r_[1.0, 1.5, "
             "np.ones(extra - 1)], np.asarray(e_act), degree)]",
             (_FC_TESTS,), "Hermite coefficient r_1 scaled by 1.5 (before the tail is folded)"),
    Mutation("hermite-coef-derivative-r1-x1.5", "sketch", "skntk/_hermite.py",
             "out.append(_fold_tail(rd, np.asarray(e_der), degree))",
             "out.append(_fold_tail(rd * np.r_[1.0, 1.5, np.ones(extra - 1)], "
             "np.asarray(e_der), degree))",
             (_FC_TESTS,), "derivative Hermite coefficient r'_1 scaled by 1.5"),
    Mutation("flatten-common-directions-off", "sketch", "skntk/planning.py",
             "    step.tensor.flatten_along(first=first, second=second)\n",
             "    step.tensor.flatten_along()\n",
             (_FC_TESTS, _RF_TESTS),
             "fully connected tensor sketches not flattened (a variance regression on digits)"),
    Mutation("flatten-stale-common-tensor", "sketch", "skntk/planning.py",
             "    return replace(step, common_tensor=CommonTensor.build(step.tensor, "
             "common.direction,\n",
             "    return step; replace(step, common_tensor=CommonTensor.build(step.tensor, "
             "common.direction,\n",
             (_FC_TESTS,),
             "CommonTensor's correction left from the unflattened sketch (biased)"),
    Mutation("cntk-hermite-coef-r1-x1.5", "sketch", "skntk/steps.py",
             "        coefs = self._coefficients(q, self.tensor is not None)  # once: their cost "
             "has a floor\n",
             "        coefs = self._coefficients(q, self.tensor is not None); "
             "coefs[0][:, 1] *= 1.5\n",
             (_CNTK_TESTS,),
             "HermiteStep: Hermite coefficient r_1 scaled by 1.5 (after the tail is folded); "
             "must be caught by the CNTKSketch tests"),
    Mutation("first-layer-weights-over-d", "sketch", "skntk/planning.py",
             "feats = Features(X * _scalar_of(X, 1.0 / math.sqrt(c)), None, (n, h, w), "
             "variances)",
             "feats = Features(X * _scalar_of(X, 1.0 / c), None, (n, h, w), variances)",
             (_FC_TESTS, _CNTK_TESTS),
             "NetworkPlan.features: the input scaled by 1/C instead of 1/sqrt(C) (covers both "
             "the fully connected first-layer weights over d and CNTKSketch's input over C)"),
    Mutation("fc-missing-bias-feature", "sketch", "skntk/steps.py",
             "phi = _hcat([phi, _constant_column(b, phi.shape[0], phi, xp)], xp)",
             "phi = _hcat([phi, _constant_column(b if f > 1 else 0.0, phi.shape[0], phi, xp)], "
             "xp)", (_FC_TESTS,), "LinearStep: a Dense layer's bias column is zero"),
    Mutation("cntk-missing-bias", "sketch", "skntk/steps.py",
             "buffer[..., width - 1] = b", "buffer[..., width - 1] = 0.0", (_CNTK_TESTS,),
             "LinearStep: Conv layers' bias column is zero"),
    Mutation("fc-missing-bias-variance", "sketch", "skntk/architectures.py",
             "acc += self.bias_std**2", "acc += 0.0", (_FC_TESTS,),
             "_Linear.variance: the exact per-pixel variance recursion forgets the bias"),
    Mutation("fc-depth-plus-one", "sketch", "skntk/fully_connected.py",
             "return fully_connected(self.depth, self.activation_,",
             "return fully_connected(self.depth + 1, self.activation_,",
             (_FC_TESTS,), "NTKSketch builds a network one layer deeper (both methods)"),
    Mutation("fc-taylor-depth-plus-one", "sketch", "skntk/taylor_step.py",
             "coef, err = fit_dot_product_polynomial(layers, p, want_ntk,",
             "coef, err = fit_dot_product_polynomial(list(layers) + list(layers[-2:]), p, "
             "want_ntk,",
             (_FC_TESTS,), "Taylor path: the polynomial of a network one layer deeper"),
    Mutation("taylor-mean-split-not-subtracted", "sketch", "skntk/taylor_step.py",
             "block = _hcat([ep[:, None], Q[l - 1] - ep[:, None] * _const(",
             "block = _hcat([ep[:, None], Q[l - 1] - 0.0 * ep[:, None] * _const(",
             (_FC_TESTS,), "Taylor mean-direction split: the common part counted twice"),
    Mutation("taylor-mean-split-dropped", "sketch", "skntk/taylor_step.py",
             "use_mean = np.linalg.norm(mean) >= _MEAN_DIRECTION_MIN and budget >= 2 * p",
             "use_mean = False", (_FC_TESTS,),
             "Taylor mean-direction split dropped (variance only)"),
    Mutation("hermite-common-split-not-subtracted", "sketch", "skntk/steps.py",
             "self.common.sketch(e, l), xp))", "0.0 * Q[l - 1], xp))", (_FC_TESTS,),
             "HermiteStep exact common-part split: the common part counted twice"),
    Mutation("hermite-psi-common-split-not-subtracted", "sketch", "skntk/steps.py",
             "sketch - e * _const(self.direction_sketch, like, (1, -1))], xp)",
             "sketch], xp)", (_FC_TESTS, _CNTK_TESTS),
             "HermiteStep NTK r'_0 part: psi's exact common direction counted twice (kept "
             "exact and left in the SRHT-compressed rest); fully connected and CNTK"),
    Mutation("hermite-common-tensor-not-subtracted", "sketch", "skntk/steps.py",
             "return [e * E, sketch - e * (E @ _const(self.correction, like))]",
             "return [e * E, sketch]", (_FC_TESTS, _CNTK_TESTS),
             "CommonTensor: the exact common part of the tensor sketch counted twice"),
    Mutation("hermite-mc-tail-series-not-subtracted", "sketch", "skntk/steps.py",
             "                rest = rest - coef * h\n",
             "                rest = rest - 0.0 * coef * h\n", (_FC_TESTS,),
             "Monte-Carlo derivative: the sketched Hermite series added on top of the full "
             "Monte-Carlo estimate instead of its tail"),
    Mutation("hermite-compress-exact-columns-dropped", "sketch", "skntk/steps.py",
             "head = _take_columns(psi, self.exact, xp)",
             "head = 0 * _take_columns(psi, self.exact, xp)", (_FC_TESTS, _CNTK_TESTS),
             "HermiteStep NTK r'_0 part: the high-energy columns of psi kept exact are lost"),
    # -- random features: NTKRandomFeatures, the Monte-Carlo strategy of the layer-wise steps
    #    (skntk/random_features.py, MonteCarloStep in steps.py, plan_monte_carlo) ------------
    Mutation("rf-first-layer-weights-over-d", "sketch", "skntk/planning.py",
             "feats = Features(X * _scalar_of(X, 1.0 / math.sqrt(c)), None, (n, h, w), "
             "variances)",
             "feats = Features(X * _scalar_of(X, 1.0 / c), None, (n, h, w), variances)",
             (_RF_TESTS,),
             "random features: the input (first-layer weights) scaled by 1/d instead of "
             "1/sqrt(d)"),
    Mutation("rf-missing-bias", "sketch", "skntk/steps.py",
             "phi = _hcat([phi, _constant_column(b, phi.shape[0], phi, xp)], xp)",
             "phi = _hcat([phi, _constant_column(b if f > 1 else 0.0, phi.shape[0], phi, xp)], "
             "xp)", (_RF_TESTS,),
             "random features: the Dense layers' bias coordinate is zero (the Gaussian "
             "projections lose the bias while the exact variances keep it)"),
    Mutation("rf-network-without-bias", "sketch", "skntk/random_features.py",
             "return fully_connected(self.depth, self.activation_, self.weight_std, "
             "self.bias_std)",
             "return fully_connected(self.depth, self.activation_, self.weight_std, 0.0)",
             (_RF_TESTS,), "NTKRandomFeatures builds its network without biases"),
    Mutation("rf-depth-plus-one", "sketch", "skntk/random_features.py",
             "return fully_connected(self.depth, self.activation_, self.weight_std, "
             "self.bias_std)",
             "return fully_connected(self.depth + 1, self.activation_, self.weight_std, "
             "self.bias_std)", (_RF_TESTS,), "random features: one layer too many"),
    Mutation("rf-uncentred-value-features", "sketch", "skntk/steps.py",
             "rest = (values - mean) * _scalar(1.0 / math.sqrt(m), like)",
             "rest = values * _scalar(1.0 / math.sqrt(m), like)", (_RF_TESTS,),
             "MonteCarloStep: value features not centred on their mean (counted twice)"),
    Mutation("rf-uncentred-derivative-features", "sketch", "skntk/steps.py",
             "rest = self._pointwise(self.activation.derivative, z, like) - mean",
             "rest = self._pointwise(self.activation.derivative, z, like)", (_RF_TESTS,),
             "Monte-Carlo derivative features (with the r'_0 split) not centred on r'_0"),
    Mutation("rf-uncentred-derivative-unsplit", "sketch", "skntk/steps.py",
             "rest = self._pointwise(self.activation.derivative, z[:, :m], like) - mean",
             "rest = self._pointwise(self.activation.derivative, z[:, :m], like)", (_RF_TESTS,),
             "MonteCarloStep without the r'_0 split: derivative features not centred"),
    Mutation("rf-leverage-weights-dropped", "sketch", "skntk/planning.py",
             "weights = np.sqrt(in_dim / radius_sq[:m])", "weights = np.ones(m)", (_RF_TESTS,),
             "leverage sampling without its importance weights"),
    Mutation("rf-leverage-weights-wrong", "sketch", "skntk/planning.py",
             "weights = np.sqrt(in_dim / radius_sq[:m])",
             "weights = np.sqrt((in_dim + 2) / radius_sq[:m])", (_RF_TESTS,),
             "leverage importance weights with the wrong degrees of freedom"),
    Mutation("rf-leverage-plain-mean", "sketch", "skntk/planning.py",
             "factor = math.sqrt(in_dim) * math.exp(math.lgamma(in_dim / 2) - log_mean_norm)",
             "factor = 1.0", (_RF_TESTS,),
             "leverage sampling: values centred on the plain Gaussian mean r_0, not on their "
             "mean under the leverage density"),
    Mutation("rf-stratified-component-kept", "sketch", "skntk/planning.py",
             "deltas[i, cols] = strata - current",
             "deltas[i, cols] = strata",
             (_RF_TESTS,),
             "stratifying the common directions adds the strata to the Gaussian component "
             "instead of replacing it (columns no longer N(0, I))"),
    # -- convolutional sketch: pooling and the CNTK-specific planning (skntk/steps.py,
    #    planning.py, architectures.py) --------------------------------------------------------
    Mutation("cntk-sketch-pool-wrong-windows", "sketch", "skntk/steps.py",
             "img = xp.mean(xp.reshape(img, (n, hn, 2, wn, 2, d)), axis=(2, 4))",
             "img = xp.mean(xp.reshape(img, (n, 2, hn, 2, wn, d)), axis=(1, 3))", (_CNTK_TESTS,),
             "PoolStep AvgPool averages pixels i and i + h/2 instead of 2i, 2i+1"),
    Mutation("cntk-sketch-pool-offset", "sketch", "skntk/steps.py",
             "img = img[:, : 2 * hn, : 2 * wn, :]",
             "img = np.roll(img, 1, axis=(1, 2))[:, : 2 * hn, : 2 * wn, :]", (_CNTK_TESTS,),
             "PoolStep AvgPool windows shifted by one pixel"),
    Mutation("cntk-uncentred-mc-derivative", "sketch", "skntk/steps.py",
             "rest = self._pointwise(self.activation.derivative, z, like) - mean",
             "rest = self._pointwise(self.activation.derivative, z, like)", (_CNTK_TESTS,),
             "Monte-Carlo derivative features (ReLU's step) not centred on their mean"),
    Mutation("mc-uncentred-value-features", "sketch", "skntk/steps.py",
             "rest = (values - mean) * _scalar(1.0 / math.sqrt(m), like)",
             "rest = values * _scalar(1.0 / math.sqrt(m), like)",
             ("tests/test_network_features.py::-k monte_carlo",),
             "Monte-Carlo strategy: value features not centred (the mean counted twice)"),
    Mutation("cntk-mean-direction-split-dropped", "sketch", "skntk/planning.py",
             "if np.linalg.norm(v) >= _MEAN_DIRECTION_MIN:", "if False:", (_CNTK_TESTS,),
             "_common_directions: no exact common mean-direction split (deeper layers fall "
             "back to the r_0 columns)"),
    Mutation("cntk-r0-split-dropped", "sketch", "skntk/planning.py",
             "split = bool(out_phi > 1 and t_dim >= 8)", "split = False",
             (_CNTK_TESTS,), "plan_hermite: the r'_0 split of the tensor sketch dropped"),
    Mutation("cntk-pixel-variances-pool", "sketch", "skntk/architectures.py",
             "new[:, k] *= inside_mask(hn, wn, oh, ow) / 16.0",
             "new[:, k] *= inside_mask(hn, wn, oh, ow) / 4.0", (_CNTK_TESTS,),
             "AvgPool.variance: per-pixel variances summed instead of averaged over the "
             "pooling window"),
    # -- exact kernels: layer rules and architectures (skntk/architectures.py, kernels.py) ---
    Mutation("myrtle-lost-first-avgpool", "exact", "skntk/architectures.py",
             "if i > 0:", "if i > 1:", _EXACT_IMAGE_TESTS,
             "the Myrtle network loses its first AvgPool"),
    Mutation("avgpool-offset-windows", "exact", "skntk/architectures.py",
             "q = q[..., : 2 * hn, : 2 * wn, : 2 * hn, : 2 * wn]",
             "q = q[..., h - 2 * hn :, w - 2 * wn :, h - 2 * hn :, w - 2 * wn :]",
             _EXACT_IMAGE_TESTS, "AvgPool drops the first, not the last, odd row and column"),
    Mutation("avgpool-interleaved-windows", "exact", "skntk/architectures.py",
             "q = m.reshape(q, lead + (hn, 2, wn, 2, hn, 2, wn, 2))",
             "q = np.moveaxis(m.reshape(q, lead + (2, hn, 2, wn, 2, hn, 2, wn)), "
             "[len(lead) + i for i in (0, 2, 4, 6)], [len(lead) + i for i in (1, 3, 5, 7)])",
             _EXACT_IMAGE_TESTS, "AvgPool averages pixels i and i + h/2 instead of 2i, 2i+1"),
    Mutation("conv-window-normalized-by-f", "exact", "skntk/architectures.py",
             "out *= 1.0 / (f * f)", "out *= 1.0 / f", _EXACT_IMAGE_TESTS,
             "Conv window sum divided by f instead of f^2"),
    Mutation("conv-window-shifts-one-pixel", "exact", "skntk/architectures.py",
             "out[..., rows, cols, rows, cols] += q[..., src_rows, src_cols, src_rows, src_cols]",
             "out[..., rows, cols, rows, cols] += q[..., src_rows, src_cols, rows, cols]",
             _EXACT_IMAGE_TESTS, "Conv window shifts only the first pixel of each pair"),
    Mutation("conv-missing-bias", "exact", "skntk/architectures.py",
             'self.weight_std, self.bias_std = _scales(weight_std, bias_std, "Conv")',
             'self.weight_std, self.bias_std = _scales(weight_std, 0.0, "Conv")',
             _EXACT_IMAGE_TESTS,
             "Conv ignores its bias"),
    Mutation("dense-missing-bias", "exact", "skntk/architectures.py",
             "nngp = state.nngp", "nngp, b2 = state.nngp, 0.0",
             ("tests/test_kernels.py::-k match_reference",), "Dense ignores its bias"),
    Mutation("gap-depth-plus-one", "exact", "skntk/kernels.py",
             "return gap_network(depth, act, weight_std, bias_std, filter_size)",
             "return gap_network(depth + 1, act, weight_std, bias_std, filter_size)",
             _EXACT_IMAGE_TESTS, "gap network one layer too deep"),
    Mutation("myrtle7-depth", "exact", "skntk/architectures.py",
             "7: (2, 2, 2)", "7: (2, 2, 1)", _EXACT_IMAGE_TESTS, "Myrtle-7 one layer short"),
    Mutation("conv-ntk-loses-new-nngp", "exact", "skntk/architectures.py",
             "ntk = self.window_mean(state.ntk)",
             "ntk = self.window_mean(state.ntk) - nngp / w2", _EXACT_IMAGE_TESTS,
             "the Conv NTK rule loses its + q'(new) term"),
    Mutation("landmark-correction-dropped", "sketch", "skntk/landmarks.py",
             "return xp.concat([E, Z - E @ self._correction_as(Z)], axis=1)",
             "return xp.concat([E, Z], axis=1)",
             ("tests/test_landmarks.py",),
             "the sketch keeps its own estimate of the landmarks' span: that part counted twice"),
    Mutation("landmark-weights-unwhitened", "sketch", "skntk/landmarks.py",
             "weights = U / np.sqrt(lam[keep])", "weights = U / lam[keep]",
             ("tests/test_landmarks.py",), "the exact part scaled by lam^-1 instead of lam^-1/2"),
    Mutation("landmark-gate-inverted", "sketch", "skntk/landmarks.py",
             "if residual_fraction(diagonal, E) > MAX_RESIDUAL_FRACTION:",
             "if residual_fraction(diagonal, E) < MAX_RESIDUAL_FRACTION:",
             ("tests/test_landmarks.py",), "'auto' keeps the landmarks where they do not pay"),
)
# fmt: on


def check_matches(mutation: Mutation, root: Path = ROOT) -> int:
    """How many times the mutation's old text occurs in its file (it must be exactly 1)."""
    text = (root / mutation.file).read_text()
    return text.count(mutation.old)


def _pytest_args(spec):
    """``"path::-k expr"`` -> ``[path, "-k", expr]``; a bare path -> ``[path]``."""
    path, _, expr = spec.partition("::-k ")
    return [path, "-k", expr] if expr else [path]


def _run(mutation: Mutation, workdir: Path, timeout: float, mutate: bool):
    """Copy the package, apply the substitution (if ``mutate``) and run the tests."""
    for name in ("skntk", "tests"):
        target = workdir / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", workdir / "pyproject.toml")
    if mutate:
        path = workdir / mutation.file
        text = path.read_text()
        path.write_text(text.replace(mutation.old, mutation.new, 1))
    env = dict(os.environ, PYTHONPATH=str(workdir), PYTHONDONTWRITEBYTECODE="1")
    # one test file per mutation may select with -k; run each spec on its own so that -k
    # expressions do not apply to the other files
    failed, codes, started = [], [], time.perf_counter()
    for spec in mutation.tests:
        cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
               "--no-header", "-rf", "-o", "addopts=", "-m", "not xfail"] + _pytest_args(spec)
        try:
            proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            codes.append("timeout")
            continue
        codes.append(proc.returncode)
        failed += re.findall(r"^FAILED (\S+)", proc.stdout, flags=re.MULTILINE)
        if proc.returncode == 1:
            break  # caught: no need to run the remaining specs
    return codes, failed, time.perf_counter() - started


def _verdict(codes):
    if 1 in codes:
        return "caught"
    if "timeout" in codes:
        return "timeout"
    if any(c not in (0, 5) for c in codes):
        return f"crash (exit {codes})"
    return "MISSED"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="run only these mutations")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--baseline", action="store_true",
                        help="first check that the selected tests pass without the mutation")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds per pytest run (default 900)")
    args = parser.parse_args(argv)

    selected = [m for m in MUTATIONS if not args.only or m.name in args.only]
    unknown = set(args.only) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutations: {sorted(unknown)}")
    if args.list:
        for m in selected:
            print(f"{m.name:40s} {m.category:7s} {m.file}: {m.why}")
        return 0

    rows, missed = [], 0
    with tempfile.TemporaryDirectory(prefix="skntk-mutation-") as tmp:
        workdir = Path(tmp)
        for m in selected:
            count = check_matches(m)
            if count != 1:
                rows.append((m, f"stale ({count} matches)", "", 0.0))
                missed += 1
                print(f"{m.name}: stale, the old text occurs {count} times in {m.file}",
                      flush=True)
                continue
            if args.baseline:
                codes, failed, _ = _run(m, workdir, args.timeout, mutate=False)
                if any(c not in (0, 5) for c in codes):
                    print(f"{m.name}: the tests fail WITHOUT the mutation: {failed or codes}",
                          flush=True)
                    rows.append((m, "baseline fails", ", ".join(failed), 0.0))
                    missed += 1
                    continue
            codes, failed, seconds = _run(m, workdir, args.timeout, mutate=True)
            verdict = _verdict(codes)
            missed += verdict != "caught"
            rows.append((m, verdict, ", ".join(failed[:3]), seconds))
            print(f"{m.name}: {verdict} in {seconds:.0f} s {failed[:3]}", flush=True)

    print("\n| mutation | category | file | verdict | caught by | seconds |")
    print("|---|---|---|---|---|---|")
    for m, verdict, by, seconds in rows:
        print(f"| {m.name} | {m.category} | {m.file} | {verdict} | {by} | {seconds:.0f} |")
    print(f"\n{len(rows) - missed} of {len(rows)} caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
