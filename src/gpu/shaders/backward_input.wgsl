// Gradient with respect to a layer's input, through the previous layer's ReLU:
// da[i, :] = (dz[i, :] · w) ⊙ [a[i, :] > 0], where a is the layer's input (the previous layer's
// ReLU output, whose sign is ReLU's derivative). With `relu` = 0 (the ViT's layers, which have no
// ReLU before them) it is plain dz · w and `a` is never read. The flag is uniform, so every
// invocation takes the same branch.
//
// dz: [m, n] with rows padded to `dz_stride` floats; w: [n, k] and a, da: [m, k] with rows padded
// to k4 vec4s. Each invocation computes 4 rows × one vec4 of columns: per j, one vec4 load of w
// and four scalar loads of dz feed four vec4 multiply-adds.

struct Params {
    m: u32,
    n: u32,
    k4: u32,
    dz_stride: u32,
    relu: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dz: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> da: array<vec4<f32>>;

fn store_row(row: u32, col: u32, v: vec4<f32>) {
    if (row < p.m) {
        let i = row * p.k4 + col;
        if (p.relu == 1u) {
            da[i] = select(vec4<f32>(0.0), v, a[i] > vec4<f32>(0.0));
        } else {
            da[i] = v;
        }
    }
}

@compute @workgroup_size(16, 4, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let col = id.x;
    let m0 = id.y * 4u;
    if (col >= p.k4 || m0 >= p.m) {
        return;
    }
    let last = p.m - 1u;
    let r0 = min(m0, last) * p.dz_stride;
    let r1 = min(m0 + 1u, last) * p.dz_stride;
    let r2 = min(m0 + 2u, last) * p.dz_stride;
    let r3 = min(m0 + 3u, last) * p.dz_stride;
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    for (var j = 0u; j < p.n; j++) {
        let v = w[j * p.k4 + col];
        s0 += dz[r0 + j] * v;
        s1 += dz[r1 + j] * v;
        s2 += dz[r2 + j] * v;
        s3 += dz[r3 + j] * v;
    }
    store_row(m0, col, s0);
    store_row(m0 + 1u, col, s1);
    store_row(m0 + 2u, col, s2);
    store_row(m0 + 3u, col, s3);
}
