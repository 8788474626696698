//! The CRF layer on libtorch: start, end and transition scores, the negative log-likelihood by
//! the forward algorithm (batched, masked, in log space), and the hand-over to ner-core's
//! Viterbi and forward-backward for decoding.
//!
//! Moves the tag scheme forbids get a constant `-10000` added during training (an exact `-inf`
//! would turn gradients into NaN through `logsumexp`), and exactly `-inf` when decoding, so no
//! forbidden path is ever returned.

use ner_core::viterbi::Transitions;
use ner_core::TagSet;
use tch::nn::{self, Init};
use tch::{Device, Kind, Tensor};

const FORBIDDEN: f64 = -10_000.0;

#[derive(Debug)]
pub struct Crf {
    k: i64,
    tags: TagSet,
    pub start: Tensor,
    pub end: Tensor,
    pub trans: Tensor,
    start_mask: Tensor,
    end_mask: Tensor,
    trans_mask: Tensor,
}

impl Crf {
    pub fn new(p: nn::Path, tags: &TagSet) -> Self {
        let k = tags.len() as i64;
        let device = p.device();
        let mask = |allowed: Vec<bool>, shape: &[i64]| {
            let v: Vec<f32> = allowed
                .into_iter()
                .map(|a| if a { 0.0 } else { FORBIDDEN as f32 })
                .collect();
            Tensor::from_slice(&v).view(shape).to_device(device)
        };
        let ku = k as usize;
        let start_mask = mask((0..ku).map(|j| tags.allowed_start(j)).collect(), &[k]);
        let end_mask = mask((0..ku).map(|j| tags.allowed_end(j)).collect(), &[k]);
        let trans_mask = mask(
            (0..ku * ku).map(|x| tags.allowed(x / ku, x % ku)).collect(),
            &[k, k],
        );
        Crf {
            k,
            tags: tags.clone(),
            start: p.var("start", &[k], Init::Const(0.0)),
            end: p.var("end", &[k], Init::Const(0.0)),
            trans: p.var("trans", &[k, k], Init::Const(0.0)),
            start_mask,
            end_mask,
            trans_mask,
        }
    }

    pub fn num_tags(&self) -> i64 {
        self.k
    }

    fn masked(&self) -> (Tensor, Tensor, Tensor) {
        (
            &self.start + &self.start_mask,
            &self.end + &self.end_mask,
            &self.trans + &self.trans_mask,
        )
    }

    /// `log Z` of every sentence: `em [B, T, K]`, `mask [B, T]` (bool, true on real tokens,
    /// every sentence at least one token long). Returns `[B]`.
    pub fn log_partition(&self, em: &Tensor, mask: &Tensor) -> Tensor {
        let (start, end, trans) = self.masked();
        let t_len = em.size()[1];
        let mut alpha = start.unsqueeze(0) + em.select(1, 0);
        let trans = trans.unsqueeze(0);
        for t in 1..t_len {
            let scores = alpha.unsqueeze(2) + &trans + em.select(1, t).unsqueeze(1);
            let next = scores.logsumexp([1], false);
            let m = mask.select(1, t).unsqueeze(1);
            alpha = next.where_self(&m, &alpha);
        }
        (alpha + end.unsqueeze(0)).logsumexp([1], false)
    }

    /// The score of the gold paths `tags [B, T]` (any valid index at padding). Returns `[B]`.
    pub fn path_score(&self, em: &Tensor, tags: &Tensor, mask: &Tensor) -> Tensor {
        let (start, end, trans) = self.masked();
        let t_len = em.size()[1];
        let maskf = mask.to_kind(em.kind());
        let emit = em.gather(2, &tags.unsqueeze(2), false).squeeze_dim(2) * &maskf;
        let mut score = emit.sum_dim_intlist([1].as_slice(), false, em.kind());
        score += start.take(&tags.select(1, 0));
        if t_len > 1 {
            let prev = tags.narrow(1, 0, t_len - 1);
            let next = tags.narrow(1, 1, t_len - 1);
            let tr =
                trans.reshape([-1]).take(&(prev * self.k + next)) * maskf.narrow(1, 1, t_len - 1);
            score += tr.sum_dim_intlist([1].as_slice(), false, em.kind());
        }
        let last = at_last(tags, mask);
        score + end.take(&last)
    }

    /// The expected score of a path under a distribution given by its marginals `unary
    /// [B, T, K]` and expected transition counts `pairs [B, K, K]`; for a one-hot
    /// distribution, the path's score. Returns `[B]`.
    pub fn expected_score(
        &self,
        em: &Tensor,
        unary: &Tensor,
        pairs: &Tensor,
        mask: &Tensor,
    ) -> Tensor {
        let (start, end, trans) = self.masked();
        // Padding may hold anything (a gathered sentence repeats position 0 there).
        let unary = unary * mask.to_kind(em.kind()).unsqueeze(2);
        let sum = |x: Tensor, dims: &[i64]| x.sum_dim_intlist(dims, false, em.kind());
        let last = at_last(&unary, mask);
        sum(em * &unary, &[1, 2])
            + sum(unary.select(1, 0) * start.unsqueeze(0), &[1])
            + sum(last * end.unsqueeze(0), &[1])
            + sum(pairs * trans.unsqueeze(0), &[1, 2])
    }

    /// Negative log-likelihood of the gold paths, `[B]` (the plain likelihood; training's
    /// loss computes its two terms itself to mix in a teacher).
    pub fn nll(&self, em: &Tensor, tags: &Tensor, mask: &Tensor) -> Tensor {
        self.log_partition(em, mask) - self.path_score(em, tags, mask)
    }

    /// The scores for decoding in plain Rust, forbidden moves at `-inf`.
    pub fn transitions(&self) -> Result<Transitions, tch::TchError> {
        let cpu = |t: &Tensor| -> Result<Vec<f32>, tch::TchError> {
            Vec::<f32>::try_from(
                t.detach()
                    .to_device(Device::Cpu)
                    .to_kind(Kind::Float)
                    .reshape([-1]),
            )
        };
        let (start, end, trans) = (cpu(&self.start)?, cpu(&self.end)?, cpu(&self.trans)?);
        Transitions::new(self.k as usize, &start, &end, &trans, Some(&self.tags)).ok_or_else(|| {
            tch::TchError::Shape("CRF parameters do not match the tag set".to_owned())
        })
    }
}

/// Each sentence's row of `x` (`[B, T]` or `[B, T, K]`) at its last real token (`mask [B, T]`).
fn at_last(x: &Tensor, mask: &Tensor) -> Tensor {
    let lengths = mask
        .to_kind(Kind::Int64)
        .sum_dim_intlist([1].as_slice(), false, Kind::Int64);
    let mut index = (lengths - 1).unsqueeze(1);
    let mut shape = vec![-1, 1];
    if let Some(&k) = x.size().get(2) {
        index = index.unsqueeze(2);
        shape.push(k);
    }
    x.gather(1, &index.expand(shape.as_slice(), false), false)
        .squeeze_dim(1)
}
