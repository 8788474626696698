//! Where inference time goes, stage by stage (a development aid):
//! `cargo run --release -p ner-model --example profile -- MODEL_DIR [BATCH]`.
use ner_model::batch::Batch;
use ner_model::checkpoint;
use ner_model::threading::{EncoderThreading, Threading};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(
        args.get(1)
            .ok_or("usage: profile MODEL_DIR [BATCH] [THREADS]")?,
    );
    let b: usize = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let threads: i32 = args.get(3).map_or(Ok(1), |s| s.parse())?;
    let mode = if std::env::var_os("PARALLEL").is_some() {
        EncoderThreading::Directions
    } else {
        EncoderThreading::IntraOp
    };
    let mut threading = Threading::new(Some(threads), mode);
    let m = checkpoint::load(&dir, tch::Device::Cpu)?;
    let sent: Vec<&str> =
        "The European Commission said on Thursday it disagreed with German advice to consumers ."
            .split(' ')
            .take(15)
            .collect();
    let enc: Vec<_> = (0..b).map(|_| m.vocab.encode(&sent)).collect();
    let refs: Vec<_> = enc.iter().collect();
    let n = 300;
    let mut t = [0f64; 5];
    for i in 0..n + 20 {
        let t0 = Instant::now();
        let batch = Batch::new(&refs, tch::Device::Cpu);
        let t1 = Instant::now();
        let x = tch::no_grad(|| m.model.features(&batch, false));
        let t2 = Instant::now();
        let helper = threading.prepare(b);
        let h = tch::no_grad(|| m.model.encode(&x, &batch.rev, false, helper));
        let t3 = Instant::now();
        let em = tch::no_grad(|| m.model.project(&h));
        let t4 = Instant::now();
        let _v: Vec<f32> = Vec::try_from(em.reshape([-1]))?;
        let t5 = Instant::now();
        if i >= 20 {
            for (k, (a, z)) in [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5)]
                .iter()
                .enumerate()
            {
                t[k] += (*z - *a).as_secs_f64() * 1e6 / n as f64;
            }
        }
    }
    println!("batch {b}, threads {threads}: batch {:.0} us, features {:.0} us, encoder {:.0} us, projection {:.0} us, copy-out {:.0} us", t[0], t[1], t[2], t[3], t[4]);
    Ok(())
}
