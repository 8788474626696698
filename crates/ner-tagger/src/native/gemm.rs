//! Matrix products for the native path, by the `gemm` crate's f32 kernels (`gemm-f32`, the
//! kernels candle uses): it picks
//! AVX-512, AVX2/FMA or SSE at run time on x86-64 (and NEON on aarch64), and for the few rows
//! of a recurrent step it multiplies without packing the weights. Measured against
//! matrixmultiply (AVX2, which packs both operands on every call) for a step's
//! `[m][200] · [200][800]` on an AVX-512 EPYC: 2.8x faster at 4 rows, 1.5x at 16, 1.3x for a
//! layer's input projection of 600 tokens.

use gemm_common::Parallelism;

/// A weight matrix stored as `[k][n]` row-major: the right-hand operand of `x · W`.
#[derive(Debug, Clone)]
pub(crate) struct Matrix {
    pub k: usize,
    pub n: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    /// From a PyTorch weight `[n][k]` (a layer's `out × in`), transposed once.
    pub(crate) fn from_torch(w: &[f32], n: usize, k: usize) -> Matrix {
        let mut data = vec![0.0; k * n];
        for o in 0..n {
            for i in 0..k {
                data[i * n + o] = w[o * k + i];
            }
        }
        Matrix { k, n, data }
    }
}

/// `c[m][n] = a[m][k] · w + beta · c`, on the calling thread (the two directions of a layer
/// already run on two).
pub(crate) fn matmul(a: &[f32], m: usize, w: &Matrix, c: &mut [f32], beta: f32) {
    matmul_on(a, m, w, c, beta, 1);
}

/// [`matmul`] on `threads` threads of rayon's pool (the transformer's large products).
pub(crate) fn matmul_on(a: &[f32], m: usize, w: &Matrix, c: &mut [f32], beta: f32, threads: usize) {
    let (k, n) = (w.k, w.n);
    if m == 0 || n == 0 {
        return;
    }
    if a.len() < m * k || c.len() < m * n || w.data.len() != k * n {
        // The callers size every buffer from the same m, k and n.
        debug_assert!(false, "matmul: buffers do not match {m}x{k} · {k}x{n}");
        return;
    }
    if k == 0 {
        // An empty sum: only the scaled `c` is left.
        c[..m * n].iter_mut().for_each(|v| *v *= beta);
        return;
    }
    // The kernels prefer a column-major destination: `c` row-major is `cᵀ` column-major, so
    // this computes `cᵀ = wᵀ · aᵀ` (as the `gemm` facade would transpose it).
    // SAFETY: row-major operands (column stride 1, row strides k and n) that the checks above
    // keep in bounds: `a` holds m·k values, `w` k·n and `c` m·n; `c` is borrowed mutably, so it
    // aliases neither input.
    #[allow(unsafe_code)]
    unsafe {
        gemm_f32::gemm::f32::get_gemm_fn()(
            n,
            m,
            k,
            c.as_mut_ptr(),
            n as isize,
            1,
            beta != 0.0,
            w.data.as_ptr(),
            n as isize,
            1,
            a.as_ptr(),
            k as isize,
            1,
            beta,
            1.0,
            false,
            false,
            false,
            match threads {
                0 | 1 => Parallelism::None,
                n => Parallelism::Rayon(n),
            },
        )
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
    fn every_row_count_multiplies_like_the_definition() {
        // The kernel changes with the number of rows: check each against a plain triple loop.
        let (k, n) = (37, 53);
        let w: Vec<f32> = (0..k * n).map(|i| ((i * 7919) % 13) as f32 - 6.0).collect();
        let w = Matrix::from_torch(&w, n, k);
        for m in [1, 2, 3, 4, 7, 8, 17, 64] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 31) % 11) as f32 * 0.25 - 1.0)
                .collect();
            for beta in [0.0, 1.0] {
                let mut c = vec![0.5; m * n];
                matmul(&a, m, &w, &mut c, beta);
                for r in 0..m {
                    for j in 0..n {
                        let want: f32 = (0..k).map(|i| a[r * k + i] * w.data[i * n + j]).sum();
                        let want = want + beta * 0.5;
                        let got = c[r * n + j];
                        assert!(
                            (got - want).abs() < 1e-3,
                            "m {m} beta {beta}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
