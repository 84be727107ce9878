//! The compiled kernels (one `.wgsl` file each, in `shaders/`) and, for each, a function that
//! binds its buffers and sizes its dispatch. The trainer and the standalone kernel runs used by the
//! tests build their dispatches with these same functions.

use bytemuck::{Pod, Zeroable};

use super::GpuContext;
use super::buffers::{pad4, uniform};

/// One kernel invocation, bound and sized, ready to record into a compute pass any number of
/// times.
pub struct Dispatch {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    workgroups: [u32; 3],
    /// The kernel's name, for profiles (see [`super::profile`], native only).
    #[cfg(not(target_arch = "wasm32"))]
    label: String,
}

impl Dispatch {
    #[cfg(not(target_arch = "wasm32"))]
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        let [x, y, z] = self.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Records `dispatches` in order into one compute pass of a new command buffer. WebGPU orders the
/// dispatches of a pass, so each sees the previous one's writes.
pub fn encode(ctx: &GpuContext, label: &str, dispatches: &[&Dispatch]) -> wgpu::CommandBuffer {
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(label),
            timestamp_writes: None,
        });
        for d in dispatches {
            d.record(&mut pass);
        }
    }
    encoder.finish()
}

pub struct Kernels {
    gather: wgpu::ComputePipeline,
    forward: wgpu::ComputePipeline,
    backward_input: wgpu::ComputePipeline,
    backward_weight: wgpu::ComputePipeline,
    bias_grad: wgpu::ComputePipeline,
    softmax_xent: wgpu::ComputePipeline,
    sgd: wgpu::ComputePipeline,
    adam: wgpu::ComputePipeline,
    advance: wgpu::ComputePipeline,
    evaluate: wgpu::ComputePipeline,
    pub(super) csr_forward: wgpu::ComputePipeline,
    pub(super) nm_forward: wgpu::ComputePipeline,
}

pub(super) fn pipeline(
    device: &wgpu::Device,
    module: wgpu::ShaderModuleDescriptor<'_>,
) -> wgpu::ComputePipeline {
    let label = module.label;
    let module = device.create_shader_module(module);
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label,
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    })
}

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Self {
        Self {
            gather: pipeline(device, wgpu::include_wgsl!("shaders/gather.wgsl")),
            forward: pipeline(device, wgpu::include_wgsl!("shaders/forward.wgsl")),
            backward_input: pipeline(device, wgpu::include_wgsl!("shaders/backward_input.wgsl")),
            backward_weight: pipeline(device, wgpu::include_wgsl!("shaders/backward_weight.wgsl")),
            bias_grad: pipeline(device, wgpu::include_wgsl!("shaders/bias_grad.wgsl")),
            softmax_xent: pipeline(device, wgpu::include_wgsl!("shaders/softmax_xent.wgsl")),
            sgd: pipeline(device, wgpu::include_wgsl!("shaders/sgd.wgsl")),
            adam: pipeline(device, wgpu::include_wgsl!("shaders/adam.wgsl")),
            advance: pipeline(device, wgpu::include_wgsl!("shaders/advance.wgsl")),
            evaluate: pipeline(device, wgpu::include_wgsl!("shaders/evaluate.wgsl")),
            csr_forward: pipeline(device, wgpu::include_wgsl!("shaders/csr_forward.wgsl")),
            nm_forward: pipeline(device, wgpu::include_wgsl!("shaders/nm_forward.wgsl")),
        }
    }
}

/// Binds `params` at binding 0 and `buffers` at 1, 2, … (every kernel numbers them that way).
pub(super) fn dispatch<P: Pod>(
    ctx: &GpuContext,
    pipeline: &wgpu::ComputePipeline,
    label: &str,
    params: &P,
    buffers: &[&wgpu::Buffer],
    workgroups: [u32; 3],
) -> Dispatch {
    let params = uniform(ctx, label, params);
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: params.as_entire_binding(),
    }];
    entries.extend(
        buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: b.as_entire_binding(),
            }),
    );
    let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    });
    Dispatch {
        pipeline: pipeline.clone(),
        bind_group,
        workgroups,
        #[cfg(not(target_arch = "wasm32"))]
        label: label.to_owned(),
    }
}

pub(super) fn groups(invocations: usize, per_group: u32) -> u32 {
    (invocations as u32).div_ceil(per_group).max(1)
}

/// WebGPU's default limit on workgroups per dimension; element-wise kernels fold larger counts
/// into a second dimension.
const MAX_GROUPS_PER_DIMENSION: u32 = 65_535;

pub(super) fn elementwise_groups(count: usize) -> [u32; 3] {
    let total = groups(count, 64);
    if total <= MAX_GROUPS_PER_DIMENSION {
        [total, 1, 1]
    } else {
        [
            MAX_GROUPS_PER_DIMENSION,
            total.div_ceil(MAX_GROUPS_PER_DIMENSION),
            1,
        ]
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GatherParams {
    batch: u32,
    features: u32,
    words: u32,
    x_stride: u32,
}

/// Gathers a batch of `batch` rows of `features` pixels: see `gather.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn gather(
    ctx: &GpuContext,
    batch: usize,
    features: usize,
    images: &wgpu::Buffer,
    labels: &wgpu::Buffer,
    order: &wgpu::Buffer,
    state: &wgpu::Buffer,
    x: &wgpu::Buffer,
    y: &wgpu::Buffer,
) -> Dispatch {
    let words = pad4(features) / 4;
    let params = GatherParams {
        batch: batch as u32,
        features: features as u32,
        words: words as u32,
        x_stride: pad4(features) as u32,
    };
    dispatch(
        ctx,
        &ctx.kernels.gather,
        "gather",
        &params,
        &[images, labels, order, state, x, y],
        [groups(words, 64), batch as u32, 1],
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ForwardParams {
    m: u32,
    n: u32,
    k4: u32,
    z_stride: u32,
    relu: u32,
    pad: [u32; 3],
}

/// `z = a · wᵀ + b` (then ReLU) for `a: [m, k]`, `w: [n, k]`: see `forward.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    ctx: &GpuContext,
    (m, k, n): (usize, usize, usize),
    relu: bool,
    a: &wgpu::Buffer,
    w: &wgpu::Buffer,
    b: &wgpu::Buffer,
    z: &wgpu::Buffer,
) -> Dispatch {
    let params = ForwardParams {
        m: m as u32,
        n: n as u32,
        k4: (pad4(k) / 4) as u32,
        z_stride: pad4(n) as u32,
        relu: u32::from(relu),
        pad: [0; 3],
    };
    let blocks_n = n.div_ceil(4);
    let blocks_m = m.div_ceil(4);
    dispatch(
        ctx,
        &ctx.kernels.forward,
        "forward",
        &params,
        &[a, w, b, z],
        [groups(blocks_n, 8), groups(blocks_m, 8), 1],
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MatrixParams {
    m: u32,
    n: u32,
    k4: u32,
    stride: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct BackwardInputParams {
    m: u32,
    n: u32,
    k4: u32,
    dz_stride: u32,
    relu: u32,
    pad: [u32; 3],
}

/// `da = dz · w` for `dz: [m, n]`, `w: [n, k]`, then `⊙ [a > 0]` (through the previous layer's
/// ReLU) when `relu`: see `backward_input.wgsl`. Without `relu`, `a` is never read, but WebGPU
/// needs a buffer bound there: any but `da` (which it may not alias) will do.
#[allow(clippy::too_many_arguments)]
pub fn backward_input(
    ctx: &GpuContext,
    (m, k, n): (usize, usize, usize),
    relu: bool,
    dz: &wgpu::Buffer,
    w: &wgpu::Buffer,
    a: &wgpu::Buffer,
    da: &wgpu::Buffer,
) -> Dispatch {
    let k4 = pad4(k) / 4;
    let params = BackwardInputParams {
        m: m as u32,
        n: n as u32,
        k4: k4 as u32,
        dz_stride: pad4(n) as u32,
        relu: u32::from(relu),
        pad: [0; 3],
    };
    dispatch(
        ctx,
        &ctx.kernels.backward_input,
        "backward_input",
        &params,
        &[dz, w, a, da],
        [groups(k4, 16), groups(m.div_ceil(4), 4), 1],
    )
}

/// `gw = dzᵀ · a` for `dz: [m, n]`, `a: [m, k]`: see `backward_weight.wgsl`.
pub fn backward_weight(
    ctx: &GpuContext,
    (m, k, n): (usize, usize, usize),
    dz: &wgpu::Buffer,
    a: &wgpu::Buffer,
    gw: &wgpu::Buffer,
) -> Dispatch {
    let k4 = pad4(k) / 4;
    let params = MatrixParams {
        m: m as u32,
        n: n as u32,
        k4: k4 as u32,
        stride: (pad4(n) / 4) as u32,
    };
    dispatch(
        ctx,
        &ctx.kernels.backward_weight,
        "backward_weight",
        &params,
        &[dz, a, gw],
        [groups(k4, 16), groups(n.div_ceil(4), 4), 1],
    )
}

/// `gb = Σ_rows dz` for `dz: [m, n]`: see `bias_grad.wgsl`.
pub fn bias_grad(
    ctx: &GpuContext,
    (m, n): (usize, usize),
    dz: &wgpu::Buffer,
    gb: &wgpu::Buffer,
) -> Dispatch {
    // [m, n, dz_stride, unused]
    let params = [m as u32, n as u32, pad4(n) as u32, 0];
    dispatch(
        ctx,
        &ctx.kernels.bias_grad,
        "bias_grad",
        &params,
        &[dz, gb],
        [groups(n, 64), 1, 1],
    )
}

/// Loss, gradient and per-row metrics of `[m, n]` logits: see `softmax_xent.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn softmax_xent(
    ctx: &GpuContext,
    (m, n): (usize, usize),
    logits: &wgpu::Buffer,
    y: &wgpu::Buffer,
    dz: &wgpu::Buffer,
    state: &wgpu::Buffer,
    metrics: &wgpu::Buffer,
) -> Dispatch {
    // [m, n, logits stride, unused]
    let params = [m as u32, n as u32, pad4(n) as u32, 0];
    dispatch(
        ctx,
        &ctx.kernels.softmax_xent,
        "softmax_xent",
        &params,
        &[logits, y, dz, state, metrics],
        [groups(m, 64), 1, 1],
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SgdParams {
    count: u32,
    masked: u32,
    lr: f32,
    momentum: f32,
}

/// One SGD-with-momentum update of `count` parameters; `mask` applies when given: see
/// `sgd.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn sgd(
    ctx: &GpuContext,
    count: usize,
    (lr, momentum): (f32, f32),
    w: &wgpu::Buffer,
    velocity: &wgpu::Buffer,
    g: &wgpu::Buffer,
    mask: Option<&wgpu::Buffer>,
    any_buffer: &wgpu::Buffer,
) -> Dispatch {
    let params = SgdParams {
        count: count as u32,
        masked: u32::from(mask.is_some()),
        lr,
        momentum,
    };
    // An unmasked update never reads the mask binding, but WebGPU needs something bound there.
    let mask = mask.unwrap_or(any_buffer);
    dispatch(
        ctx,
        &ctx.kernels.sgd,
        "sgd",
        &params,
        &[w, velocity, g, mask],
        elementwise_groups(count),
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct AdamParams {
    count: u32,
    masked: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    pad: [u32; 2],
}

/// Adam's hyper-parameters as the kernel takes them.
#[derive(Debug, Clone, Copy)]
pub struct AdamSettings {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

/// One Adam update of `count` parameters (step number from `state[1]`); `mask` applies when
/// given: see `adam.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn adam(
    ctx: &GpuContext,
    count: usize,
    s: AdamSettings,
    (w, m1, m2, g): (&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer),
    mask: Option<&wgpu::Buffer>,
    any_buffer: &wgpu::Buffer,
    state: &wgpu::Buffer,
) -> Dispatch {
    let params = AdamParams {
        count: count as u32,
        masked: u32::from(mask.is_some()),
        lr: s.lr,
        beta1: s.beta1,
        beta2: s.beta2,
        eps: s.eps,
        pad: [0; 2],
    };
    let mask = mask.unwrap_or(any_buffer);
    dispatch(
        ctx,
        &ctx.kernels.adam,
        "adam",
        &params,
        &[w, m1, m2, g, mask, state],
        elementwise_groups(count),
    )
}

/// Ends a step: cursor += batch, updates += 1, metrics slot += 1: see `advance.wgsl`.
pub fn advance(ctx: &GpuContext, batch: usize, state: &wgpu::Buffer) -> Dispatch {
    let params = [batch as u32, 0, 0, 0];
    dispatch(
        ctx,
        &ctx.kernels.advance,
        "advance",
        &params,
        &[state],
        [1, 1, 1],
    )
}

/// Per-sample loss and prediction plus confusion counts of `[m, n]` logits: see `evaluate.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    ctx: &GpuContext,
    (m, n, total): (usize, usize, usize),
    logits: &wgpu::Buffer,
    y: &wgpu::Buffer,
    state: &wgpu::Buffer,
    predictions: &wgpu::Buffer,
    losses: &wgpu::Buffer,
    confusion: &wgpu::Buffer,
) -> Dispatch {
    // [m, n, logits stride, samples in the data set]
    let params = [m as u32, n as u32, pad4(n) as u32, total as u32];
    dispatch(
        ctx,
        &ctx.kernels.evaluate,
        "evaluate",
        &params,
        &[logits, y, state, predictions, losses, confusion],
        [groups(m, 64), 1, 1],
    )
}
