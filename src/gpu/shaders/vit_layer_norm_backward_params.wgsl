// LayerNorm's parameter gradients, overwriting: dweight = Σ_rows dy ⊙ x̂, dbias = Σ_rows dy.
//
// A column reduction over all the batch's token rows (2048 for 128 images), so one workgroup per
// vec4 of columns: its 128 invocations each sum every 128th row into named vec4 accumulators,
// then a tree reduction in workgroup memory combines them. Padding columns sum zeros.

struct Params {
    rows: u32,
    stride4: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> xhat: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dweight: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dbias: array<vec4<f32>>;

const LANES: u32 = 128u;

var<workgroup> part_w: array<vec4<f32>, LANES>;
var<workgroup> part_b: array<vec4<f32>, LANES>;

@compute @workgroup_size(LANES, 1, 1)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let col = group.x;
    var sw = vec4<f32>(0.0);
    var sb = vec4<f32>(0.0);
    for (var r = lane; r < p.rows; r += LANES) {
        let i = r * p.stride4 + col;
        let d = dy[i];
        sw += d * xhat[i];
        sb += d;
    }
    part_w[lane] = sw;
    part_b[lane] = sb;
    workgroupBarrier();
    for (var width = LANES / 2u; width > 0u; width /= 2u) {
        if (lane < width) {
            part_w[lane] += part_w[lane + width];
            part_b[lane] += part_b[lane + width];
        }
        workgroupBarrier();
    }
    if (lane == 0u) {
        dweight[col] = part_w[0];
        dbias[col] = part_b[0];
    }
}
