//! A frozen BERT encoder (MiniLM and its kin) on libtorch, for contextual word features: the
//! embeddings (word, position, segment 0, LayerNorm) and the first `upto` transformer layers
//! (self-attention, GELU feed-forward, post-LayerNorm), read from a Hugging Face directory's
//! `config.json` and `*.safetensors`. Layers above the highest one used are never loaded.

use crate::error::{Result, TrainError};
use ner_tagger::bert;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use tch::nn;
use tch::{Device, Kind, Tensor};

/// The fields of a BERT `config.json` that the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub hidden_size: i64,
    pub num_attention_heads: i64,
    pub num_hidden_layers: usize,
    pub max_position_embeddings: i64,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
}

fn default_eps() -> f64 {
    1e-12
}

struct Linear {
    w: Tensor,
    b: Tensor,
}

impl Linear {
    fn apply(&self, x: &Tensor) -> Tensor {
        x.linear(&self.w, Some(&self.b))
    }
}

struct Norm {
    w: Tensor,
    b: Tensor,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    inter: Linear,
    out: Linear,
    out_norm: Norm,
}

impl Layer {
    /// The layer's tensors in the order of [`bert::layer_tensor_names`].
    fn tensors_mut(&mut self) -> [&mut Tensor; 16] {
        [
            &mut self.query.w,
            &mut self.query.b,
            &mut self.key.w,
            &mut self.key.b,
            &mut self.value.w,
            &mut self.value.b,
            &mut self.attn_out.w,
            &mut self.attn_out.b,
            &mut self.attn_norm.w,
            &mut self.attn_norm.b,
            &mut self.inter.w,
            &mut self.inter.b,
            &mut self.out.w,
            &mut self.out.b,
            &mut self.out_norm.w,
            &mut self.out_norm.b,
        ]
    }
}

/// The encoder in fp32: frozen, or with its top layers trainable ([`Bert::finetune`]).
pub struct Bert {
    pub config: BertConfig,
    word: Tensor,
    position: Tensor,
    segment: Tensor,
    norm: Norm,
    layers: Vec<Layer>,
}

impl std::fmt::Debug for Bert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bert")
            .field("config", &self.config)
            .field("layers", &self.layers.len())
            .finish()
    }
}

fn bad(path: &Path, why: impl std::fmt::Display) -> TrainError {
    TrainError::data(format!("{}: {why}", path.display()))
}

impl Bert {
    /// Loads `dir` (`config.json` and one `*.safetensors` file) with its first `upto` layers.
    pub fn load(dir: &Path, upto: usize, device: Device) -> Result<Bert> {
        let config_path = dir.join("config.json");
        let text =
            std::fs::read_to_string(&config_path).map_err(|e| TrainError::io(&config_path, e))?;
        let config: BertConfig = serde_json::from_str(&text)
            .map_err(|e| bad(&config_path, format!("not a BERT config: {e}")))?;
        if upto > config.num_hidden_layers {
            return Err(bad(
                &config_path,
                format!(
                    "layer {upto} asked for, the model has {}",
                    config.num_hidden_layers
                ),
            ));
        }
        let path = crate::subword::safetensors_in(dir)?;
        let mut w = Weights::read(&path, device)?;
        let mut layers = Vec::with_capacity(upto);
        for i in 0..upto {
            layers.push(w.layer(&format!("encoder.layer.{i}"))?);
        }
        Ok(Bert {
            word: w.take("embeddings.word_embeddings.weight")?,
            position: w.take("embeddings.position_embeddings.weight")?,
            segment: w.take("embeddings.token_type_embeddings.weight")?.get(0),
            norm: w.norm("embeddings.LayerNorm")?,
            layers,
            config,
        })
    }

    /// The number of layers loaded.
    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    /// Makes the top `n` loaded layers variables of `root`, named `transformer.` and their
    /// Hugging Face names and started from their current values, so that they train with the
    /// model. The rest stays frozen.
    pub fn finetune(&mut self, root: &nn::Path, n: usize) {
        for i in bert::tuned_layers(self.layers.len(), n) {
            let names = bert::layer_tensor_names(i);
            for (name, t) in names.iter().zip(self.layers[i].tensors_mut()) {
                *t = variable(root, &format!("{}{name}", bert::TUNED_PREFIX), t);
            }
        }
    }

    /// A second handle on the same tensors (a fine-tuned layer's variables included).
    pub fn shallow_clone(&self) -> Bert {
        let mut layers: Vec<Layer> = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let lin = |x: &Linear| Linear {
                w: x.w.shallow_clone(),
                b: x.b.shallow_clone(),
            };
            let norm = |x: &Norm| Norm {
                w: x.w.shallow_clone(),
                b: x.b.shallow_clone(),
            };
            layers.push(Layer {
                query: lin(&l.query),
                key: lin(&l.key),
                value: lin(&l.value),
                attn_out: lin(&l.attn_out),
                attn_norm: norm(&l.attn_norm),
                inter: lin(&l.inter),
                out: lin(&l.out),
                out_norm: norm(&l.out_norm),
            });
        }
        Bert {
            config: self.config.clone(),
            word: self.word.shallow_clone(),
            position: self.position.shallow_clone(),
            segment: self.segment.shallow_clone(),
            norm: Norm {
                w: self.norm.w.shallow_clone(),
                b: self.norm.b.shallow_clone(),
            },
            layers,
        }
    }

    /// The hidden states of `ids` (`[B, P]`, with `mask` `[B, P]` true on real pieces): the
    /// embedding output (state 0) and the output of every loaded layer, each `[B, P, D]`.
    /// Pieces beyond the position table take its last row, as in the native encoder.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Vec<Tensor> {
        let p = ids.size()[1];
        let last = self.position.size()[0] - 1;
        let positions = Tensor::arange(p, (Kind::Int64, ids.device())).clamp_max(last);
        let x = self
            .word
            .index_select(0, &ids.reshape([-1]))
            .view([ids.size()[0], p, -1])
            + self.position.index_select(0, &positions)
            + &self.segment;
        let mut x = self.layer_norm(&x, &self.norm);
        // Padding keys get -inf before the softmax: [B, 1, 1, P].
        let bias = mask
            .logical_not()
            .to_kind(Kind::Float)
            .g_mul_scalar(-1e9)
            .unsqueeze(1)
            .unsqueeze(1);
        let mut states = vec![x.shallow_clone()];
        for layer in &self.layers {
            x = self.layer(layer, &x, &bias);
            states.push(x.shallow_clone());
        }
        states
    }

    fn layer(&self, l: &Layer, x: &Tensor, bias: &Tensor) -> Tensor {
        let (b, p, d) = x.size3().unwrap_or((0, 0, 0));
        let h = self.config.num_attention_heads;
        let heads = |t: Tensor| t.view([b, p, h, d / h]).transpose(1, 2);
        let (q, k, v) = (
            heads(l.query.apply(x)),
            heads(l.key.apply(x)),
            heads(l.value.apply(x)),
        );
        let scores = q.matmul(&k.transpose(-1, -2)) / ((d / h) as f64).sqrt() + bias;
        let ctx = scores
            .softmax(-1, Kind::Float)
            .matmul(&v)
            .transpose(1, 2)
            .reshape([b, p, d]);
        let x = self.layer_norm(&(x + l.attn_out.apply(&ctx)), &l.attn_norm);
        let ff = l.out.apply(&l.inter.apply(&x).gelu("none"));
        self.layer_norm(&(x + ff), &l.out_norm)
    }

    fn layer_norm(&self, x: &Tensor, n: &Norm) -> Tensor {
        let d = self.config.hidden_size;
        x.layer_norm(
            [d],
            Some(&n.w),
            Some(&n.b),
            self.config.layer_norm_eps,
            false,
        )
    }
}

/// A variable of `root` at the dotted path `name` (tch names nest by path), a copy of `init`.
fn variable(root: &nn::Path, name: &str, init: &Tensor) -> Tensor {
    let parts: Vec<&str> = name.split('.').collect();
    let Some((last, dirs)) = parts.split_last() else {
        return root.var_copy(name, init);
    };
    let path = dirs.iter().fold(None, |p: Option<nn::Path>, d| {
        Some(p.map_or_else(|| root.sub(d), |p| p.sub(d)))
    });
    match path {
        Some(p) => p.var_copy(last, init),
        None => root.var_copy(last, init),
    }
}

/// The tensors of a checkpoint, taken by name (a `bert.` prefix is ignored).
struct Weights<'a> {
    path: &'a Path,
    tensors: HashMap<String, Tensor>,
    device: Device,
}

impl<'a> Weights<'a> {
    fn read(path: &'a Path, device: Device) -> Result<Self> {
        let tensors = Tensor::read_safetensors(path)
            .map_err(|e| bad(path, format!("unreadable safetensors: {e}")))?
            .into_iter()
            .map(|(n, t)| (n.trim_start_matches("bert.").to_owned(), t))
            .collect();
        Ok(Weights {
            path,
            tensors,
            device,
        })
    }

    fn take(&mut self, name: &str) -> Result<Tensor> {
        self.tensors
            .remove(name)
            .map(|x| x.to_kind(Kind::Float).to_device(self.device))
            .ok_or_else(|| bad(self.path, format!("no tensor named {name}")))
    }

    fn linear(&mut self, p: &str) -> Result<Linear> {
        Ok(Linear {
            w: self.take(&format!("{p}.weight"))?,
            b: self.take(&format!("{p}.bias"))?,
        })
    }

    fn norm(&mut self, p: &str) -> Result<Norm> {
        let Linear { w, b } = self.linear(p)?;
        Ok(Norm { w, b })
    }

    fn layer(&mut self, p: &str) -> Result<Layer> {
        Ok(Layer {
            query: self.linear(&format!("{p}.attention.self.query"))?,
            key: self.linear(&format!("{p}.attention.self.key"))?,
            value: self.linear(&format!("{p}.attention.self.value"))?,
            attn_out: self.linear(&format!("{p}.attention.output.dense"))?,
            attn_norm: self.norm(&format!("{p}.attention.output.LayerNorm"))?,
            inter: self.linear(&format!("{p}.intermediate.dense"))?,
            out: self.linear(&format!("{p}.output.dense"))?,
            out_norm: self.norm(&format!("{p}.output.LayerNorm"))?,
        })
    }
}

impl ner_tagger::contextual::Encoder for Bert {
    fn hidden_size(&self) -> usize {
        self.config.hidden_size as usize
    }

    /// libtorch's own thread count applies (`threads` is the native encoder's).
    fn hidden_states(
        &self,
        ids: &[i64],
        mask: &[bool],
        b: usize,
        _threads: usize,
    ) -> ner_tagger::Result<Vec<Vec<f32>>> {
        let shape = [b as i64, (ids.len() / b.max(1)) as i64];
        let device = self.word.device();
        let ids = Tensor::from_slice(ids).view(shape).to_device(device);
        let mask = Tensor::from_slice(mask).view(shape).to_device(device);
        let states = tch::no_grad(|| self.forward(&ids, &mask));
        states
            .iter()
            .map(|s| {
                let flat = s.to_device(Device::Cpu).to_kind(Kind::Float).reshape([-1]);
                Vec::<f32>::try_from(flat)
                    .map_err(|e| ner_tagger::Error::Data(format!("the transformer: {e}")))
            })
            .collect()
    }
}
