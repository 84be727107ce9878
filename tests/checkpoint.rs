//! Safetensors checkpoints: round trip, PyTorch names, and clear errors for bad files.

use std::collections::HashMap;

use ndarray::Array2;
use pruneplay::checkpoint::{from_safetensors, to_safetensors};
use pruneplay::model::{Architecture, Init, Mlp, Network};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

fn model() -> Mlp {
    let arch: Architecture = "20-7-5-3".parse().unwrap();
    let mut m = Mlp::new(&arch, Init::Glorot, &mut ChaCha8Rng::seed_from_u64(1));
    let mask = Array2::from_shape_fn((7, 20), |(r, c)| ((r * c) % 3 != 0) as u8 as f32);
    m.layers_mut()[0].set_mask(mask).unwrap();
    m.layers_mut()[1].bias.fill(0.25);
    m
}

fn f32_bytes(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| (i as f32 * 0.01).to_le_bytes())
        .collect()
}

/// A file made of `(name, dtype, shape)` tensors filled with small numbers.
fn file(tensors: &[(&str, Dtype, Vec<usize>)]) -> Vec<u8> {
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, dtype, shape)| {
            let n: usize = shape.iter().product();
            if *dtype == Dtype::F32 {
                f32_bytes(n)
            } else {
                vec![0; n * dtype.bitsize() / 8]
            }
        })
        .collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .zip(&data)
        .map(|((name, dtype, shape), d)| {
            (
                name.to_string(),
                TensorView::new(*dtype, shape.clone(), d).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None::<HashMap<String, String>>).unwrap()
}

#[test]
fn round_trip_keeps_weights_biases_and_masks() {
    let m = model();
    let bytes = to_safetensors(&m).unwrap();
    let back = from_safetensors("m.safetensors", &bytes).unwrap();
    assert_eq!(back, m);
    assert!(back.weights_remaining() < 1.0);
}

#[test]
/// Only the pruned layer (0) has a mask, as in a PyTorch state dict after `prune.*` on one layer.
fn uses_pytorch_sequential_names_and_shapes() {
    let bytes = to_safetensors(&model()).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(
        names,
        [
            "0.bias",
            "0.weight",
            "0.weight_mask",
            "2.bias",
            "2.weight",
            "4.bias",
            "4.weight",
        ]
    );
    let w = st.tensor("0.weight").unwrap();
    assert_eq!((w.dtype(), w.shape()), (Dtype::F32, &[7usize, 20][..]));
}

#[test]
fn accepts_pytorch_pruned_state_dicts() {
    // torch.nn.utils.prune leaves `weight_orig` and `weight_mask` in the state dict.
    let bytes = file(&[
        ("0.weight_orig", Dtype::F32, vec![3, 4]),
        ("0.weight_mask", Dtype::F32, vec![3, 4]),
        ("0.bias", Dtype::F32, vec![3]),
        ("2.weight", Dtype::F32, vec![2, 3]),
        ("2.bias", Dtype::F32, vec![2]),
    ]);
    let m = from_safetensors("pt.safetensors", &bytes).unwrap();
    assert_eq!(m.architecture().to_string(), "4-3-2");
    // The mask file holds 0.00, 0.01, ...: only the first entry is zero.
    assert_eq!(m.layers()[0].weight[[0, 0]], 0.0);
    assert_eq!(m.layers()[0].kept(), 11);
}

fn error(bytes: &[u8]) -> String {
    from_safetensors("bad.safetensors", bytes)
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_files_give_clear_errors() {
    assert!(error(b"not a checkpoint").contains("not a safetensors file"));
    let e = error(&file(&[("0.running_mean", Dtype::F32, vec![3])]));
    assert!(e.contains("unexpected tensor \"0.running_mean\""), "{e}");
    let e = error(&file(&[("fc1.weight", Dtype::F32, vec![3, 4])]));
    assert!(e.contains("missing tensor fc1.bias"), "{e}");
    let e = error(&file(&[
        ("0.weight", Dtype::F64, vec![3, 4]),
        ("0.bias", Dtype::F32, vec![3]),
    ]));
    assert!(e.contains("0.weight is F64"), "{e}");
    let e = error(&file(&[
        ("0.weight", Dtype::F32, vec![3, 4]),
        ("0.bias", Dtype::F32, vec![4]),
    ]));
    assert!(
        e.contains("0.bias has shape [4] but 0.weight has 3 rows"),
        "{e}"
    );
    let e = error(&file(&[("0.weight", Dtype::F32, vec![3, 4])]));
    assert!(e.contains("missing tensor 0.bias"), "{e}");
    let e = error(&file(&[
        ("0.weight", Dtype::F32, vec![3, 4]),
        ("0.bias", Dtype::F32, vec![3]),
        ("1.weight", Dtype::F32, vec![2, 3]),
        ("1.bias", Dtype::F32, vec![2]),
    ]));
    assert!(e.contains("Linear layers at 0, 1: an nn.Sequential"), "{e}");
    let e = error(&file(&[
        ("0.weight", Dtype::F32, vec![3, 4]),
        ("0.bias", Dtype::F32, vec![3]),
        ("2.weight", Dtype::F32, vec![2, 5]),
        ("2.bias", Dtype::F32, vec![2]),
    ]));
    assert!(
        e.contains(
            "layer 0 (0.weight [3, 4]) has 3 outputs but layer 1 (2.weight [2, 5]) takes 5 inputs"
        ),
        "{e}"
    );
    let e = error(&file(&[
        ("0.weight", Dtype::F32, vec![3, 4]),
        ("0.weight_mask", Dtype::F32, vec![4, 3]),
        ("0.bias", Dtype::F32, vec![3]),
    ]));
    assert!(
        e.contains("0.weight_mask has shape [4, 3] but 0.weight has [3, 4]"),
        "{e}"
    );
}
