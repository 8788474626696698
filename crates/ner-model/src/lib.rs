//! The BiLSTM-CRF on libtorch. This is the only crate of the workspace that touches `tch`.

/// The libtorch build this crate was compiled against, as libtorch reports it at run time.
pub fn libtorch_threads() -> i32 {
    tch::get_num_threads()
}

#[cfg(test)]
mod tests {
    use tch::{Kind, Tensor};

    /// Proves that libtorch is linked and callable: a matrix product with a known answer.
    #[test]
    fn libtorch_matmul_known_answer() {
        let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([2, 2]);
        let b = Tensor::from_slice(&[5.0f32, 6.0, 7.0, 8.0]).reshape([2, 2]);
        let c = a.matmul(&b);
        let got: Vec<f32> = Vec::try_from(c.reshape([-1]).to_kind(Kind::Float)).unwrap();
        assert_eq!(got, vec![19.0, 22.0, 43.0, 50.0]);
    }
}
