//! Matrix products for the native path. Products of several rows go to ndarray's
//! `general_mat_mul`, which runs matrixmultiply's packed kernels (AVX2/FMA chosen at run time on
//! x86-64, portable code elsewhere). A product of one to three rows (the recurrence at batch 1
//! to 3) would spend more time packing the weights than multiplying, so it streams the weights
//! row by row instead, with fused multiply-adds as wide as the CPU has (pulp picks AVX-512,
//! AVX2 or SSE at run time).

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};

/// A weight matrix stored as `[k][n]` row-major: the right-hand operand of `x · W`.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub k: usize,
    pub n: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    /// From a PyTorch weight `[n][k]` (a layer's `out × in`), transposed once.
    pub fn from_torch(w: &[f32], n: usize, k: usize) -> Matrix {
        let mut data = vec![0.0; k * n];
        for o in 0..n {
            for i in 0..k {
                data[i * n + o] = w[o * k + i];
            }
        }
        Matrix { k, n, data }
    }
}

/// Below this many rows, products stream the weights instead of packing them.
const STREAM_BELOW: usize = 4;

/// `c[m][n] = a[m][k] · w + beta · c`.
pub fn matmul(a: &[f32], m: usize, w: &Matrix, c: &mut [f32], beta: f32) {
    if m == 0 {
        return;
    }
    let (k, n) = (w.k, w.n);
    if m < STREAM_BELOW {
        let arch = pulp::Arch::new();
        for r in 0..m {
            let row = &mut c[r * n..(r + 1) * n];
            if beta == 0.0 {
                row.fill(0.0);
            } else if beta != 1.0 {
                row.iter_mut().for_each(|v| *v *= beta);
            }
            arch.dispatch(Stream {
                x: &a[r * k..(r + 1) * k],
                w,
                c: row,
            });
        }
        return;
    }
    let (Ok(a), Ok(b), Ok(mut c)) = (
        ArrayView2::from_shape((m, k), &a[..m * k]),
        ArrayView2::from_shape((k, n), &w.data[..]),
        ArrayViewMut2::from_shape((m, n), &mut c[..m * n]),
    ) else {
        // The callers size every buffer from the same m, k and n.
        debug_assert!(false, "matmul: buffers do not match {m}x{k} · {k}x{n}");
        return;
    };
    general_mat_mul(1.0, &a, &b, beta, &mut c);
}

/// `c += x · w` for one row `x`, four rows of `w` at a time.
struct Stream<'a> {
    x: &'a [f32],
    w: &'a Matrix,
    c: &'a mut [f32],
}

impl pulp::WithSimd for Stream<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Stream { x, w, c } = self;
        let n = w.n;
        let row = |i: usize| &w.data[i * n..(i + 1) * n];
        let mut i = 0;
        while i + 4 <= x.len() {
            let s = [x[i], x[i + 1], x[i + 2], x[i + 3]].map(|v| simd.splat_f32s(v));
            let (ch, ct) = S::as_mut_simd_f32s(c);
            let (r0, _) = S::as_simd_f32s(row(i));
            let (r1, _) = S::as_simd_f32s(row(i + 1));
            let (r2, _) = S::as_simd_f32s(row(i + 2));
            let (r3, _) = S::as_simd_f32s(row(i + 3));
            for ((((acc, w0), w1), w2), w3) in ch.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
                let v = simd.mul_add_f32s(s[0], *w0, *acc);
                let v = simd.mul_add_f32s(s[1], *w1, v);
                let v = simd.mul_add_f32s(s[2], *w2, v);
                *acc = simd.mul_add_f32s(s[3], *w3, v);
            }
            let base = n - ct.len();
            for (j, acc) in ct.iter_mut().enumerate() {
                for q in 0..4 {
                    *acc += x[i + q] * row(i + q)[base + j];
                }
            }
            i += 4;
        }
        for (q, &v) in x.iter().enumerate().skip(i) {
            for (acc, wv) in c.iter_mut().zip(row(q)) {
                *acc += v * wv;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplies_like_the_definition() {
        // W as PyTorch stores it: out 3 × in 2.
        let w = Matrix::from_torch(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 2);
        let a = [1.0, 10.0, -1.0, 0.5];
        let mut c = vec![1.0; 6];
        matmul(&a, 2, &w, &mut c, 1.0);
        // Row 0: [1 + 20, 3 + 40, 5 + 60] + 1; row 1: [-1 + 1, -3 + 2, -5 + 3] + 1.
        assert_eq!(c, [22.0, 44.0, 66.0, 1.0, 0.0, -1.0]);
    }

    #[test]
    fn streaming_and_packed_products_agree() {
        let (k, n) = (37, 53);
        let w: Vec<f32> = (0..k * n).map(|i| ((i * 7919) % 13) as f32 - 6.0).collect();
        let w = Matrix::from_torch(&w, n, k);
        let a: Vec<f32> = (0..8 * k)
            .map(|i| ((i * 31) % 11) as f32 * 0.25 - 1.0)
            .collect();
        let mut packed = vec![0.5; 8 * n];
        matmul(&a, 8, &w, &mut packed, 1.0);
        for m in 1..STREAM_BELOW {
            let mut streamed = vec![0.5; m * n];
            matmul(&a, m, &w, &mut streamed, 1.0);
            for (s, p) in streamed.iter().zip(&packed) {
                assert!((s - p).abs() < 1e-3, "{s} vs {p}");
            }
        }
    }
}
