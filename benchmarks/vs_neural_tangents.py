"""skntk's exact kernels and sketches against neural-tangents' ``stax`` (time and agreement).

neural-tangents needs JAX, which is not a dependency of skntk; run this in an environment that
has both (neural-tangents 0.6.5 works with ``jax==0.4.30``, ``jaxlib==0.4.30`` and
``tf2jax<0.3.7``)::

    python -m venv /tmp/ntenv && . /tmp/ntenv/bin/activate
    pip install -e . "neural-tangents==0.6.5" "jax==0.4.30" "jaxlib==0.4.30" "tf2jax<0.3.7"
    python benchmarks/vs_neural_tangents.py [--n 2000] [--images 8]

Rows: the exact NTK of a depth-2 fully connected network (ReLU and erf, weight_std 1, bias_std
0.5) on ``n x 784`` Gaussian rows; the exact Myrtle-5 CNTK (ReLU) of ``images`` random 32x32x3
images; and NTKSketch(8192) on the same fully connected rows (its error against the exact
kernel next to its time). Times are medians of 3 (neural-tangents' first, compiling, call is
left out), on the CPU, float64. "max rel diff" is the largest entry difference over the largest
entry.
"""

import argparse
import time

import jax
import numpy as np
from neural_tangents import stax

from skntk import NTKSketch
from skntk.kernels import cntk_kernel, ntk_kernel

jax.config.update("jax_enable_x64", True)


def median_time(fn, repeat=3):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def fc_stax(activation):
    act = {"relu": stax.Relu(), "erf": stax.Erf()}[activation]
    layers = []
    for _ in range(2):
        layers += [stax.Dense(512, W_std=1.0, b_std=0.5), act]
    layers.append(stax.Dense(1, W_std=1.0, b_std=0.5))
    return stax.serial(*layers)[2]


def myrtle5_stax():
    """skntk's ``myrtle_network(5, "relu")``: [Conv, ReLU] x 2, AvgPool, [Conv, ReLU], AvgPool,
    [Conv, ReLU], global average pooling, Dense; weight_std 1, no bias."""
    def block():
        return [stax.Conv(512, (3, 3), padding="SAME", W_std=1.0, b_std=0.0), stax.Relu()]
    pool = stax.AvgPool((2, 2), strides=(2, 2))
    layers = block() + block() + [pool] + block() + [pool] + block()
    layers += [stax.GlobalAvgPool(), stax.Dense(1, W_std=1.0, b_std=0.0)]
    return stax.serial(*layers)[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--images", type=int, default=8)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, 784))
    print(f"jax {jax.__version__}, CPU, float64; n = {args.n} x 784, {args.images} images\n")
    print("| kernel | skntk (s) | neural-tangents (s) | ratio | max rel diff |")
    print("|---|---|---|---|---|")
    for act in ("relu", "erf"):
        kfn = jax.jit(fc_stax(act), static_argnames="get")
        np.asarray(kfn(X[:10], X[:10], get="ntk"))  # compile
        t_nt, K_nt = median_time(lambda kfn=kfn: np.asarray(kfn(X, X, get="ntk")))
        t_sk, K = median_time(lambda act=act: ntk_kernel(X, depth=2, activation=act,
                                                        weight_std=1.0, bias_std=0.5))
        diff = np.max(np.abs(K - K_nt)) / np.max(np.abs(K_nt))
        print(f"| NTK, {act}, depth 2, bias 0.5 | {t_sk:.3f} | {t_nt:.3f} | "
              f"{t_nt / t_sk:.1f}x | {diff:.1e} |")
        t_sketch, Z = median_time(lambda act=act: NTKSketch(
            8192, depth=2, activation=act, bias_std=0.5, random_state=0).fit_transform(X))
        err = np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K)
        print(f"| NTKSketch(8192) features, {act} (error {err:.4f}) | {t_sketch:.3f} | "
              f"{t_nt:.3f} (exact) | {t_nt / t_sketch:.2f}x | |")
    images = rng.uniform(size=(args.images, 32, 32, 3))
    kfn = myrtle5_stax()
    t_nt, K_nt = median_time(lambda: np.asarray(kfn(images, images, get="ntk")), repeat=1)
    t_sk, K = median_time(lambda: cntk_kernel(images, architecture="myrtle", depth=5),
                          repeat=1)
    diff = np.max(np.abs(K - K_nt)) / np.max(np.abs(K_nt))
    print(f"| CNTK Myrtle-5, relu, {args.images} images 32x32x3 | {t_sk:.2f} | {t_nt:.2f} | "
          f"{t_nt / t_sk:.1f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
