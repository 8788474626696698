//! `--device` values.

use anyhow::{bail, Result};
use ner_model::Device;

pub fn parse_device(s: &str) -> Result<Device> {
    let d = match s {
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        s => match s.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
            Some(n) => Device::Cuda(n),
            None => bail!("unknown device {s:?}: expected cpu, cuda or cuda:N"),
        },
    };
    if let Device::Cuda(n) = d {
        if !ner_model::cuda_available() {
            bail!("device {s}: this libtorch has no usable CUDA (rebuild with NER_LINK_CUDA=1 on a machine with a GPU, or use --device cpu)");
        }
        if n >= ner_model::cuda_device_count() {
            bail!(
                "device {s}: there are only {} CUDA devices",
                ner_model::cuda_device_count()
            );
        }
    }
    Ok(d)
}
