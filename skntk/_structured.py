r"""Structured Gaussian projections: ``X @ G`` in ``O(D log D)`` per row, every column exactly
Gaussian.

Monte-Carlo random features average ``f(<g_j, u>) f(<g_j, v>)`` over the columns ``g_j`` of a
Gaussian matrix ``G`` (``D x m``). They are unbiased as soon as every column is *marginally*
``N(0, I_D)``; correlations between columns only change the variance. :class:`StructuredGaussian`
is such a ``G``, applied with FFTs instead of a dense product and drawn with ``O(D)`` random
numbers per block of columns instead of ``D m``.

Construction
------------
Write ``D = input_dim`` and ``m = output_dim``.

1. **Mixing** (shared by all columns): an orthogonal ``D x D`` map ``Q`` built from orthonormal
   DCT-II transforms ``T`` (``scipy.fft.dct(..., norm="ortho")``) of a fast length
   ``D1 <= D`` and random sign flips ``S``: ``Q = T_1 S_1`` when ``D`` itself is a fast length,
   else ``Q = T_2 S_2 T_1 S_1`` with ``T_1`` acting on the coordinates ``[0, D1)`` and ``T_2``
   on ``[D - D1, D)`` (``D1 > D / 2``, so the windows overlap and cover every coordinate). Then a
   random permutation ``P``: ``w = P Q u``, ``|w| = |u|``. The signs make ``w`` spread out for
   any fixed ``u`` (a constant vector or one spike included); the permutation assigns the
   spread entries to frequency bins at random.
2. **Blocks** ``b = 0, ..., B - 1`` of ``2 L`` columns each (the last one truncated). Deal the
   entries of ``w`` to the bins ``k = 1, ..., L - 1`` in turn, ``k(p) = 1 + (p mod (L - 1))``
   (``F = ceil(D / (L - 1))`` entries or one less per bin; bin 0 stays empty, see below; when
   ``L = 1`` everything goes to bin 0). Draw complex weights ``c_p = a_p + i b_p`` with
   ``a_p, b_p`` iid ``N(0, 1)`` (``2 D`` numbers per block), sum each bin,
   ``x_k = sum_{p: k(p) = k} c_p w_p``, take the DFT ``y_j = sum_k exp(-2 pi i j k / L) x_k``
   and output ``z_{2j} = Re y_j`` and ``z_{2j+1} = Im y_j``.

Why every column is exactly ``N(0, I_D)``: with ``t = 2 pi j k(p) / L``,

.. math::

    z_{2j}(u) = \sum_p (a_p \cos t + b_p \sin t)\, w_p = \langle h, P Q u \rangle,
    \qquad z_{2j+1}(u) = \sum_p (b_p \cos t - a_p \sin t)\, w_p ,

and ``h_p = a_p cos t + b_p sin t`` are iid ``N(0, cos^2 t + sin^2 t) = N(0, 1)``. So, given
``Q`` and ``P``, the column is ``g = Q^T P^T h ~ N(0, I_D)`` (an orthogonal map of a standard
Gaussian vector), whatever ``Q`` and ``P`` are; hence marginally too. The same holds for the
imaginary parts, and ``z_{2j}``, ``z_{2j+1}`` are independent (their covariance is
``sum_p (cos t sin t - sin t cos t) w_p w'_p = 0``). Two columns of different blocks are
independent: given ``Q`` and ``P`` they are (fresh weights), each with a law that does not depend
on ``Q`` and ``P``.

Variance. Given ``Q`` and ``P`` a Monte-Carlo estimate ``(1/m) sum_j f(z_j(u)) f(z_j(v))`` is
exactly unbiased, so its variance is the average over ``(Q, P)`` of its conditional variance,
a sum of per-block terms: drawing ``Q`` and ``P`` once for all blocks (one mixing and one
gather per row instead of one per block) leaves the variance of every kernel entry unchanged.
Within a block the columns are correlated:
``Cov(z_{2j}(u), z_{2j'}(v)) = sum_k cos(2 pi (j - j') k / L) E_k`` with the bin sums
``E_k = sum_{k(p) = k} w_p(u) w_p(v)`` (``sin`` for an even and an odd column). Summed over all
pairs ``j != j'`` of a full block this is ``2 L^2 E_0 - 2 L <u, v>``: with bin 0 empty the
columns of a block sum to zero (``sum_j y_j = L x_0 = 0``) and the first-order (linear) part
of the covariances cancels the linear part of the columns' variances, as antithetic samples
do. The second-order part grows with the spread of the ``E_k``, hence several entries per bin
(``F`` about 4: ``L`` about ``D / 4``). For a ReLU NNGP entry ``m Var`` is then about
0.6-1.0 against 1.25 for an iid ``G`` (1.8-3 when bin 0 is used too).

Column norms: since ``Q`` and ``P`` are orthogonal, ``|g|^2 = |h|^2 =
sum_p (|c_p|^2 + Re(exp(-2 i t) c_p^2)) / 2`` for ``z_{2j}`` (minus instead of plus for
``z_{2j+1}``), as ``(a cos t + b sin t)^2 = (a^2 + b^2) / 2 + ((a^2 - b^2) cos 2t + 2 a b sin 2t)
/ 2``: one FFT of the binned ``c_p^2`` per block (:meth:`column_norms_squared`). This is
why the mixing is orthogonal on ``R^D`` itself: zero-padding ``u`` to a fast length ``N > D``
before one DCT makes ``g`` the first ``D`` coordinates of an ``N``-dimensional Gaussian, whose
squared norm is no longer a diagonal quadratic form in ``h``.

Cost per row: two DCTs of length ``D1`` (one when ``D`` is a fast length), one gather, and per
block about ``D`` complex multiply-adds and an FFT of length ``L``.

Namespaces: NumPy input uses ``scipy.fft`` along the last axis of C-contiguous row chunks, with
worker threads. Other array-API namespaces compute the DCT-II from an ``rfft`` (Makhoul's
reordering) and use ``xp.fft.fft``; both give the same ``G`` up to rounding. The randomness is
host NumPy, drawn in ``__init__`` and copied to the input's device once.
"""


import numpy as np
import scipy.fft
import scipy.sparse as sp
from sklearn.utils import check_random_state

from skntk._backend import dct2, device_constant, fft_workers, get_namespace

__all__ = ["StructuredGaussian"]

# Target entries of w per frequency bin (F above): more evens out the bin energies (less
# correlation between the columns of a block) but costs one complex multiply-add per entry per
# block. 4 costs ~8% more than 2 at D = m = 12289 and cuts the ReLU kernel variance by ~20%.
_FOLD = 4
# Rows per chunk are chosen so that one chunk's buffers stay around this many bytes (in cache).
_CHUNK_BYTES = 1 << 22


def _largest_fast_len(n):
    """The largest length ``<= n`` for which ``scipy.fft``'s real transforms are fast."""
    k = n
    while scipy.fft.next_fast_len(k, real=True) != k:
        k -= 1
    return k


class StructuredGaussian:
    r"""A ``D x m`` Gaussian projection applied with FFTs; every column exactly ``N(0, I_D)``.

    ``transform(X)`` returns ``X @ G`` for an implicit ``G`` whose columns are each exactly
    standard Gaussian. Use it wherever only the marginal law of each column matters, such as
    Monte-Carlo estimates ``(1/m) sum_j f(<g_j, x>) f(<g_j, y>)`` of Gaussian expectations,
    which stay exactly unbiased.

    Construction: ``w = P Q u`` with ``Q`` an orthogonal mixing of random signs and DCTs and
    ``P`` a random permutation; for each block of ``2 L`` columns, complex Gaussian weights
    ``c_p = a_p + i b_p`` (``a_p, b_p`` iid ``N(0, 1)``), bin sums
    ``x_k = sum_{p: k(p) = k} c_p w_p`` over ``k = 1..L-1`` (bin 0 empty), ``y = DFT(x)``, and
    the columns ``Re y_j``, ``Im y_j``. With ``t = 2 pi j k(p) / L``,

    .. math:: \mathrm{Re}\, y_j = \langle h, P Q u\rangle, \qquad
              h_p = a_p \cos t + b_p \sin t \sim N(0, 1) \text{ iid},

    so the column is ``g = Q^T P^T h ~ N(0, I_D)`` exactly (and likewise ``Im y_j``). Columns
    of one block are correlated: with bin 0 empty they sum to zero, which cancels the linear
    part of a Monte-Carlo estimate's variance. The full argument is in the docstring of the
    source module, ``skntk/_structured.py``.

    Parameters
    ----------
    input_dim : int
        ``D``, the number of features of the inputs (rows of ``G``), ``>= 1``.
    output_dim : int
        ``m``, the number of projections (columns of ``G``), ``>= 1``.
    rng : int, numpy.random.RandomState or None
        Source of the randomness, all drawn here (see
        :func:`sklearn.utils.check_random_state`).

    Attributes
    ----------
    input_dim : int
        ``D``.
    output_dim : int
        ``m``.
    fft_len : int
        ``L``, the FFT length of a block: each block gives ``2 L`` columns.
    n_blocks : int
        ``B = ceil(m / (2 L))``, the number of independent blocks.
    n_folds : int
        ``F = ceil(D / (L - 1))`` (``D`` when ``L = 1``): the most mixed coordinates summed into
        one frequency bin.
    mixing_len : int
        ``D1``, the length of the DCTs of the mixing (``D`` when ``D`` is a fast length).

    Notes
    -----
    Cost: ``O(D log D + B (D + L log L))`` per row, i.e. ``O((D + m) log D)`` for ``m``
    about ``D``, against ``O(D m)`` for a dense ``G``; ``O(B D)`` random numbers and memory.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.sketching import StructuredGaussian
    >>> proj = StructuredGaussian(5, 8, rng=0)
    >>> X = np.arange(10.0).reshape(2, 5)
    >>> Z = proj.transform(X)
    >>> Z.shape
    (2, 8)
    >>> G = proj.materialize()
    >>> bool(np.allclose(Z, X @ G))
    True
    >>> bool(np.allclose(proj.column_norms_squared(), (G ** 2).sum(axis=0)))
    True
    """

    def __init__(self, input_dim, output_dim, rng=None):
        from .sketching import _check_dim  # the sketches' one rule (sketching imports this)

        D = _check_dim(input_dim, "input_dim")
        m = _check_dim(output_dim, "output_dim")
        rng = check_random_state(rng)
        self.input_dim = D
        self.output_dim = m

        D1 = _largest_fast_len(D)
        self.mixing_len = D1
        n_stages = 1 if D1 == D else 2
        # stage 1 flips all D coordinates (then mixes [0, D1)); stage 2 flips and mixes
        # [D - D1, D)
        self._signs = [rng.choice(np.array([-1.0, 1.0]), size=D)]
        if n_stages == 2:
            self._signs.append(rng.choice(np.array([-1.0, 1.0]), size=D1))
        self._perm = rng.permutation(D).astype(np.intp)

        L0 = scipy.fft.next_fast_len(-(-D // _FOLD) + 1)
        B = -(-m // (2 * L0))
        L = scipy.fft.next_fast_len(-(-m // (2 * B)))  # <= L0: balanced blocks, little waste
        first = 1 if L > 1 else 0  # bin 0 (the DC bin) stays empty when there is another one
        F = -(-D // (L - first))
        self.fft_len = L
        self.n_blocks = B
        self.n_folds = F
        self._first_bin = first
        # weights c = a + ib of the F x (L - first) grid of used bins; the tail past D is zero
        self._coef = []
        for _ in range(B):
            ab = rng.standard_normal((2, D))
            c = np.zeros(F * (L - first), dtype=np.complex128)
            c[:D] = ab[0] + 1j * ab[1]
            self._coef.append(c.reshape(F, L - first))
        self._cache = {}

    # -- pickling: drop the per-dtype casts -------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._cache = {}

    def __repr__(self):
        return (
            f"StructuredGaussian(input_dim={self.input_dim}, output_dim={self.output_dim}, "
            f"fft_len={self.fft_len}, n_blocks={self.n_blocks})"
        )

    # -- public API -------------------------------------------------------------------------
    def transform(self, X):
        """``X @ G`` for the implicit ``G``.

        Parameters
        ----------
        X : array of shape (n_samples, input_dim)
            NumPy array (float32 stays float32, computed in complex64; anything else is cast to
            float64), SciPy sparse matrix (densified), or an array of another array-API
            namespace (its own ``fft`` is used, on its device).

        Returns
        -------
        Z : array of shape (n_samples, output_dim)
            ``Z[i, j] = <X[i], g_j>``, in the namespace and floating dtype of ``X``.
        """
        from .sketching import _prepare  # the sketches' one input rule (sketching imports this)

        X, xp, is_np = _prepare(X, self.input_dim)
        if is_np:
            X = X.toarray() if sp.issparse(X) else np.ascontiguousarray(X)
            return self._transform_numpy(X)
        return self._transform_xp(X, xp)

    def columns_along(self, v):
        """``v^T G`` for one vector ``v``: the projections of ``v`` on every column.

        Parameters
        ----------
        v : array-like of shape (input_dim,)
            A host (NumPy) vector.

        Returns
        -------
        proj : ndarray of shape (output_dim,), float64
            ``proj[j] = <v, g_j>``.
        """
        v = np.asarray(v, dtype=np.float64)
        if v.ndim != 1:
            raise ValueError(
                f"v must be a 1-d vector of length {self.input_dim}; got shape {v.shape}"
            )
        return self.transform(v[None, :])[0]

    def column_norms_squared(self):
        """``|g_j|^2`` of every column, exactly, in ``O(L log L + D)`` per block.

        Uses ``|g|^2 = sum_p (|c_p|^2 +/- Re(exp(-2 i t) c_p^2)) / 2`` (module docstring):
        ``+`` for the real parts (even columns), ``-`` for the imaginary parts (odd columns).

        Returns
        -------
        norms : ndarray of shape (output_dim,), float64
        """
        L = self.fft_len
        out = np.empty((self.n_blocks, L, 2))
        q = np.zeros(L, dtype=np.complex128)
        for b, c in enumerate(self._coef):
            total = np.sum(c.real**2 + c.imag**2)
            q[self._first_bin :] = np.sum(c * c, axis=0)
            osc = scipy.fft.fft(q).real[(2 * np.arange(L)) % L]
            out[b, :, 0] = 0.5 * (total + osc)
            out[b, :, 1] = 0.5 * (total - osc)
        return out.reshape(-1)[: self.output_dim]

    def materialize(self):
        """The dense ``G`` (``input_dim x output_dim``, float64): ``transform(eye(D))``.

        For tests and small ``D`` only: it costs ``D`` transforms and ``D m`` memory.
        """
        return self.transform(np.eye(self.input_dim))

    # -- internals --------------------------------------------------------------------------
    def _host(self, dtype):
        """Signs and weights cast to ``dtype`` / its complex twin, cached per dtype."""
        key = np.dtype(dtype).str
        hit = self._cache.get(key)
        if hit is None:
            cdtype = np.complex64 if dtype == np.float32 else np.complex128
            hit = ([s.astype(dtype) for s in self._signs], [c.astype(cdtype) for c in self._coef])
            self._cache[key] = hit
        return hit

    def _transform_numpy(self, X):
        n, D = X.shape
        dtype = X.dtype
        cdtype = np.complex64 if dtype == np.float32 else np.complex128
        L, F, D1, m = self.fft_len, self.n_folds, self.mixing_len, self.output_dim
        signs, coef = self._host(dtype)
        first = self._first_bin
        Lb = L - first
        out = np.empty((n, m), dtype=dtype)
        if n == 0:
            return out
        row_bytes = dtype.itemsize * (2 * D + 4 * L + 2 * L)
        rows = max(1, min(n, _CHUNK_BYTES // row_bytes))
        buf = np.empty((rows, D), dtype=dtype)
        w = np.empty((rows, D), dtype=dtype)
        x = np.empty((rows, L), dtype=cdtype)
        tmp = np.empty((rows, L), dtype=cdtype)
        dct_kw = dict(type=2, norm="ortho", axis=-1, workers=fft_workers())
        for start in range(0, n, rows):
            r = min(rows, n - start)
            u = buf[:r]
            np.multiply(X[start : start + r], signs[0], out=u)
            if D1 == D:
                u[...] = scipy.fft.dct(u, overwrite_x=True, **dct_kw)
            else:
                u[:, :D1] = scipy.fft.dct(u[:, :D1], **dct_kw)
                tail = u[:, D - D1 :]
                tail *= signs[1]
                tail[...] = scipy.fft.dct(tail, **dct_kw)
            wr = w[:r]
            np.take(u, self._perm, axis=1, out=wr)
            for b in range(self.n_blocks):
                xr, tr = x[:r], tmp[:r]
                c = coef[b]
                # x_k = sum_f c[f, k] w[f, k] over the used bins k >= first
                xb, tb = xr[:, first:], tr[:, first:]
                width = min(Lb, D)
                np.multiply(wr[:, :width], c[0, :width], out=xb[:, :width])
                xb[:, width:] = 0
                xr[:, :first] = 0
                for f in range(1, F):
                    lo = f * Lb
                    width = min(Lb, D - lo)
                    np.multiply(wr[:, lo : lo + width], c[f, :width], out=tb[:, :width])
                    xb[:, :width] += tb[:, :width]
                y = scipy.fft.fft(xr, axis=-1, overwrite_x=True, workers=fft_workers())
                # complex -> interleaved (Re y_0, Im y_0, Re y_1, ...): the block's 2L columns
                ys = y.view(dtype)
                lo = 2 * L * b
                width = min(2 * L, m - lo)
                out[start : start + r, lo : lo + width] = ys[:, :width]
        return out

    def _transform_xp(self, X, xp):
        n, D = X.shape
        L, F, D1, m = self.fft_len, self.n_folds, self.mixing_len, self.output_dim
        dtype = X.dtype
        cdtype = xp.complex64 if dtype == xp.float32 else xp.complex128
        u = X * device_constant(self._signs[0], X, dtype=dtype)
        if D1 == D:
            u = dct2(u, D1, xp, axis=-1)
        else:
            u = xp.concat([dct2(u[:, :D1], D1, xp, axis=-1), u[:, D1:]], axis=-1)
            tail = u[:, D - D1 :] * device_constant(self._signs[1], X, dtype=dtype)
            u = xp.concat([u[:, : D - D1], dct2(tail, D1, xp, axis=-1)], axis=-1)
        w = xp.take(u, device_constant(self._perm, X), axis=1)
        Lb = L - self._first_bin
        if F * Lb > D:
            w = xp.concat([w, xp.zeros((n, F * Lb - D), dtype=dtype, device=X.device)], axis=-1)
        w = xp.reshape(w, (n, F, Lb))
        dc = xp.zeros((n, self._first_bin), dtype=cdtype, device=X.device)
        blocks = []
        for b in range(self.n_blocks):
            c = device_constant(self._coef[b], X, dtype=cdtype)
            x = xp.concat([dc, xp.sum(w * c, axis=1)], axis=-1)
            y = xp.fft.fft(x, axis=-1)
            blocks.append(xp.reshape(xp.stack([xp.real(y), xp.imag(y)], axis=-1), (n, 2 * L)))
        Z = blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=-1)
        return Z[:, :m]


class StackedGaussian:
    """Side-by-side :class:`StructuredGaussian` projections ``[G_1, ..., G_k]`` of one input.

    Each part has its own blocks, so a group of columns used together (e.g. the values of a
    Monte-Carlo step, apart from the derivative's extra columns) fills whole blocks, whose
    columns' linear parts cancel (see the module docstring).

    Parameters
    ----------
    input_dim : int
    output_dims : sequence of int
        Columns of each part (zeros are skipped).
    rng : int, RandomState or None

    Examples
    --------
    >>> import numpy as np
    >>> from skntk._structured import StackedGaussian
    >>> G = StackedGaussian(6, [5, 3], rng=0)
    >>> X = np.random.RandomState(1).randn(2, 6)
    >>> bool(np.allclose(G.transform(X), X @ G.materialize())), G.output_dim
    (True, 8)
    """

    def __init__(self, input_dim, output_dims, rng=None):
        rng = check_random_state(rng)
        self.parts = [StructuredGaussian(input_dim, k, rng) for k in output_dims if k]
        self.input_dim = int(input_dim)
        self.output_dim = sum(part.output_dim for part in self.parts)

    def transform(self, X):
        """``X @ [G_1, ..., G_k]`` (see :meth:`StructuredGaussian.transform`)."""
        outs = [part.transform(X) for part in self.parts]
        if len(outs) == 1:
            return outs[0]
        if isinstance(outs[0], np.ndarray):
            return np.concatenate(outs, axis=1)
        return get_namespace(outs[0]).concat(outs, axis=1)

    def columns_along(self, v):
        """``v^T [G_1, ..., G_k]`` (see :meth:`StructuredGaussian.columns_along`)."""
        return np.concatenate([part.columns_along(v) for part in self.parts])

    def column_norms_squared(self):
        """Squared column norms of every part, side by side."""
        return np.concatenate([part.column_norms_squared() for part in self.parts])

    def materialize(self):
        """The dense ``[G_1, ..., G_k]`` (float64; small ``input_dim`` only)."""
        return self.transform(np.eye(self.input_dim))
