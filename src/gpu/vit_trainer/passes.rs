//! The ViT's forward and backward passes as dispatch lists over the trainer's buffers.

use super::buffers::{Acts, Grads, POS_EMBED, Params, Shape, fc_norm, norm1, norm2};
use crate::gpu::GpuContext;
use crate::gpu::buffers::pad4;
use crate::gpu::kernels::{self, Dispatch};
use crate::gpu::vit_kernels as vk;
use crate::model::Vit;
use crate::model::vit::PATCH_PIXELS;

/// The forward pass from the patches in `a.x` to the logits in `a.logits` (everything after
/// the gather), keeping what the backward pass needs in `a`.
pub(super) fn forward(
    ctx: &GpuContext,
    shape: &Shape,
    removed: &[bool],
    p: &Params,
    a: &Acts,
) -> Vec<Dispatch> {
    let (rows, d, hd) = (a.rows(), shape.dim, shape.head_dim);
    let depth = shape.blocks.len();
    let o = &p.others;
    let pe = &p.linears[Vit::PATCH_EMBED];
    let mut out = vec![
        kernels::forward(
            ctx,
            (rows, PATCH_PIXELS, d),
            false,
            &a.x,
            &pe.w,
            &pe.b,
            &a.h,
        ),
        vk::add_pos_embed(ctx, rows, d, &a.h, &o[POS_EMBED].p),
    ];
    let stream = rows * pad4(d);
    for b in (0..depth).filter(|&b| !removed[b]) {
        let s = shape.blocks[b];
        let attn = shape.attn(b);
        let acts = a.block(b);
        let (qkv, proj) = (&p.linears[Vit::qkv(b)], &p.linears[Vit::proj(b)]);
        let (fc1, fc2) = (&p.linears[Vit::fc1(b)], &p.linears[Vit::fc2(b)]);
        // Attention branch: h += proj(coef ⊙ attn(norm1(h))).
        if attn > 0 {
            let (w, bias) = norm1(b);
            out.push(vk::layer_norm_forward(
                ctx,
                rows,
                d,
                &a.h,
                &o[w].p,
                &o[bias].p,
                &acts.norm1,
                &acts.ln1_xhat,
                &acts.ln1_rstd,
            ));
            out.push(kernels::forward(
                ctx,
                (rows, d, 3 * attn),
                false,
                &acts.norm1,
                &qkv.w,
                &qkv.b,
                &acts.qkv,
            ));
            out.push(vk::attention_forward(
                ctx,
                a.images,
                s.heads,
                hd,
                &acts.qkv,
                &p.coef[b],
                &a.heads_out,
                &acts.gated,
                &acts.probs,
            ));
        }
        // With no heads left, `proj` has no inputs and adds its bias alone.
        out.push(kernels::forward(
            ctx,
            (rows, attn, d),
            false,
            &acts.gated,
            &proj.w,
            &proj.b,
            &a.branch,
        ));
        out.push(vk::axpy(ctx, stream, 1.0, &a.branch, &a.h));
        // MLP branch: h += fc2(GELU(fc1(norm2(h)))).
        if s.hidden > 0 {
            let (w, bias) = norm2(b);
            out.push(vk::layer_norm_forward(
                ctx,
                rows,
                d,
                &a.h,
                &o[w].p,
                &o[bias].p,
                &acts.norm2,
                &acts.ln2_xhat,
                &acts.ln2_rstd,
            ));
            out.push(kernels::forward(
                ctx,
                (rows, d, s.hidden),
                false,
                &acts.norm2,
                &fc1.w,
                &fc1.b,
                &acts.pre,
            ));
            out.push(vk::gelu_forward(
                ctx,
                rows * pad4(s.hidden),
                &acts.pre,
                &acts.act,
            ));
        }
        out.push(kernels::forward(
            ctx,
            (rows, s.hidden, d),
            false,
            &acts.act,
            &fc2.w,
            &fc2.b,
            &a.branch,
        ));
        out.push(vk::axpy(ctx, stream, 1.0, &a.branch, &a.h));
    }
    let (w, bias) = fc_norm(depth);
    let head = &p.linears[p.linears.len() - 1];
    out.extend([
        vk::mean_pool_forward(ctx, a.images, d, &a.h, &a.pooled),
        vk::layer_norm_forward(
            ctx,
            a.images,
            d,
            &a.pooled,
            &o[w].p,
            &o[bias].p,
            &a.features,
            &a.fc_xhat,
            &a.fc_rstd,
        ),
        kernels::forward(
            ctx,
            (a.images, d, shape.classes),
            false,
            &a.features,
            &head.w,
            &head.b,
            &a.logits,
        ),
    ]);
    out
}

/// The backward pass from ∂L/∂logits in `g.d_logits` to every parameter's gradient, in
/// `backward.rs`'s order. Parameter gradients are overwritten (never accumulated), so nothing
/// needs clearing between steps; a removed block's are never written and stay zero.
pub(super) fn backward(
    ctx: &GpuContext,
    shape: &Shape,
    removed: &[bool],
    p: &Params,
    a: &Acts,
    g: &Grads,
) -> Vec<Dispatch> {
    let (n, rows, d) = (a.images, a.rows(), shape.dim);
    let depth = shape.blocks.len();
    let o = &p.others;
    let head = &p.linears[p.linears.len() - 1];
    let c = shape.classes;
    // backward_input reads its `a` binding only through a ReLU, which the ViT has not: any
    // buffer other than the output will do.
    let unused = &g.zeros;
    let (fw, fb) = fc_norm(depth);
    let mut out = vec![
        kernels::backward_weight(ctx, (n, d, c), &g.d_logits, &a.features, &head.gw),
        kernels::bias_grad(ctx, (n, c), &g.d_logits, &head.gb),
        kernels::backward_input(
            ctx,
            (n, d, c),
            false,
            &g.d_logits,
            &head.w,
            unused,
            &g.d_features,
        ),
        // The LayerNorm backward accumulates into its input gradient.
        vk::scale(ctx, n * pad4(d), 0.0, &g.zeros, &g.d_pooled),
    ];
    out.extend(vk::layer_norm_backward(
        ctx,
        n,
        d,
        &g.d_features,
        &a.fc_xhat,
        &a.fc_rstd,
        &o[fw].p,
        &g.d_pooled,
        &o[fw].g,
        &o[fb].g,
    ));
    out.push(vk::mean_pool_backward(ctx, n, d, &g.d_pooled, &g.dx));
    for b in (0..depth).rev().filter(|&b| !removed[b]) {
        let s = shape.blocks[b];
        let attn = shape.attn(b);
        let acts = a.block(b);
        let (qkv, proj) = (&p.linears[Vit::qkv(b)], &p.linears[Vit::proj(b)]);
        let (fc1, fc2) = (&p.linears[Vit::fc1(b)], &p.linears[Vit::fc2(b)]);
        // MLP branch.
        out.push(kernels::bias_grad(ctx, (rows, d), &g.dx, &fc2.gb));
        if s.hidden > 0 {
            let h = s.hidden;
            out.extend([
                kernels::backward_weight(ctx, (rows, h, d), &g.dx, &acts.act, &fc2.gw),
                kernels::backward_input(ctx, (rows, h, d), false, &g.dx, &fc2.w, unused, &g.d_act),
                vk::gelu_backward(ctx, rows * pad4(h), &acts.pre, &g.d_act),
                kernels::backward_weight(ctx, (rows, d, h), &g.d_act, &acts.norm2, &fc1.gw),
                kernels::bias_grad(ctx, (rows, h), &g.d_act, &fc1.gb),
                kernels::backward_input(
                    ctx,
                    (rows, d, h),
                    false,
                    &g.d_act,
                    &fc1.w,
                    unused,
                    &g.d_norm,
                ),
            ]);
            let (w, bias) = norm2(b);
            out.extend(vk::layer_norm_backward(
                ctx,
                rows,
                d,
                &g.d_norm,
                &acts.ln2_xhat,
                &acts.ln2_rstd,
                &o[w].p,
                &g.dx,
                &o[w].g,
                &o[bias].g,
            ));
        }
        // Attention branch.
        out.push(kernels::bias_grad(ctx, (rows, d), &g.dx, &proj.gb));
        if attn > 0 {
            out.extend([
                kernels::backward_weight(ctx, (rows, attn, d), &g.dx, &acts.gated, &proj.gw),
                kernels::backward_input(
                    ctx,
                    (rows, attn, d),
                    false,
                    &g.dx,
                    &proj.w,
                    unused,
                    &g.d_gated,
                ),
                vk::attention_backward(
                    ctx,
                    n,
                    s.heads,
                    shape.head_dim,
                    &acts.qkv,
                    &acts.probs,
                    &g.d_gated,
                    &p.coef[b],
                    &g.dqkv,
                ),
                kernels::backward_weight(ctx, (rows, d, 3 * attn), &g.dqkv, &acts.norm1, &qkv.gw),
                kernels::bias_grad(ctx, (rows, 3 * attn), &g.dqkv, &qkv.gb),
                kernels::backward_input(
                    ctx,
                    (rows, d, 3 * attn),
                    false,
                    &g.dqkv,
                    &qkv.w,
                    unused,
                    &g.d_norm,
                ),
            ]);
            let (w, bias) = norm1(b);
            out.extend(vk::layer_norm_backward(
                ctx,
                rows,
                d,
                &g.d_norm,
                &acts.ln1_xhat,
                &acts.ln1_rstd,
                &o[w].p,
                &g.dx,
                &o[w].g,
                &o[bias].g,
            ));
        }
    }
    let pe = &p.linears[Vit::PATCH_EMBED];
    out.extend([
        vk::pos_embed_grad(ctx, n, d, &g.dx, &o[POS_EMBED].g),
        kernels::backward_weight(ctx, (rows, PATCH_PIXELS, d), &g.dx, &a.x, &pe.gw),
        kernels::bias_grad(ctx, (rows, d), &g.dx, &pe.gb),
    ]);
    out
}
