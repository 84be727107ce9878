// The practice questions' experiments, run in the worker on the visitor's model (the shipped
// checkpoint, or the one they trained). Each strings together the session's scratch-model
// operations, reports progress, stops at a Cancel between pieces, and returns the result object
// questions.js describes.

import { iterativeAmount } from '../pkg/pruneplay.js';

const MEDIAN_OF = 5;
const FINETUNE_CHUNK = 20;

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Fine-tunes the scratch model `steps` steps in chunks, reporting each. */
async function finetune(session, steps, ctx, label, offset = 0, total = steps) {
  for (let done = 0; done < steps; done += FINETUNE_CHUNK) {
    // A promise: on WebGPU a chunk awaits its read-back.
    await session.scratchFinetune(Math.min(FINETUNE_CHUNK, steps - done));
    await ctx.tick((offset + done + FINETUNE_CHUNK) / total, label);
  }
}

const prune = (session, method, sparsity, extra = {}) =>
  session.scratchPrune({ method, sparsity, ...extra }, extra.from ?? 'base');

/** Share of the first layer's weights pruned on a region of the 28×28 image. */
function prunedShare(keptPerPixel, inRegion) {
  let kept = 0;
  let n = 0;
  for (let p = 0; p < 784; p++) {
    if (!inRegion(Math.floor(p / 28), p % 28)) continue;
    kept += keptPerPixel[p];
    n += 1;
  }
  return 1 - kept / n;
}
const border = (r, c) => r < 4 || r >= 24 || c < 4 || c >= 24;
const centre = (r, c) => r >= 8 && r < 20 && c >= 8 && c < 20;

const EXPERIMENTS = {
  async 'finetune-recovery'(session, ctx) {
    const sparsity = 0.5;
    const steps = 200;
    prune(session, 'magnitude', sparsity);
    const accBefore = session.scratchAccuracy('base');
    const accPruned = session.scratchAccuracy('scratch');
    await finetune(session, steps, ctx, 'fine-tuning the pruned network');
    return { sparsity, method: 'magnitude', accBefore, accPruned, accFinetuned: session.scratchAccuracy('scratch'), steps };
  },

  async 'structured-compaction'(session, ctx) {
    const sparsity = 0.5;
    prune(session, 'structured-l1', sparsity);
    const accPruned = session.scratchAccuracy('scratch');
    const info = session.scratchCompact();
    const masked = [];
    const compacted = [];
    // Alternating runs, so a slow moment of the machine hits both alike.
    for (let i = 0; i < MEDIAN_OF; i++) {
      for (const [which, times] of [['masked', masked], ['compacted', compacted]]) {
        const t0 = performance.now();
        session.scratchForward(which);
        times.push(performance.now() - t0);
      }
      await ctx.tick((i + 1) / MEDIAN_OF, 'timing both forward passes on the 10,000 test images');
    }
    return { sparsity, arch: info.arch, params: info.params, paramsDense: info.paramsDense, msMasked: median(masked), msCompacted: median(compacted), accPruned };
  },

  async 'sparsegpt-vs-magnitude'(session, ctx) {
    const levels = [0.5, 0.6, 0.7];
    const methods = ['magnitude', 'wanda', 'sparsegpt'];
    const points = [];
    for (const [i, sparsity] of levels.entries()) {
      const point = { sparsity };
      for (const [j, method] of methods.entries()) {
        prune(session, method, sparsity);
        point[method] = session.scratchAccuracy('scratch');
        await ctx.tick((i * methods.length + j + 1) / (levels.length * methods.length), `${method} at ${sparsity}`);
      }
      points.push(point);
    }
    return { points };
  },

  async 'global-layers'(session) {
    const sparsity = 0.8;
    return { sparsity, layers: prune(session, 'global-magnitude', sparsity).layers };
  },

  async 'wanda-pixels'(session, ctx) {
    const sparsity = 0.5;
    const wanda = prune(session, 'wanda', sparsity).keptPerPixel;
    await ctx.tick(0.5, 'Wanda');
    const magnitude = prune(session, 'magnitude', sparsity).keptPerPixel;
    return {
      sparsity,
      borderPruned: prunedShare(wanda, border),
      centrePruned: prunedShare(wanda, centre),
      magnitudeBorderPruned: prunedShare(magnitude, border),
      magnitudeCentrePruned: prunedShare(magnitude, centre),
      keptWanda: wanda,
      keptMagnitude: magnitude,
    };
  },

  async 'nm-row'(session) {
    const r = prune(session, 'magnitude', 0.5, { pattern: '2:4' });
    const row = Array.from(r.rowSegment);
    const keptPerGroup = [];
    for (let g = 0; g < row.length; g += 4) keptPerGroup.push(row.slice(g, g + 4).filter((w) => w !== 0).length);
    return { n: 2, m: 4, row, keptPerGroup, weightsRemaining: r.weightsRemaining };
  },

  async 'iterative-vs-oneshot'(session, ctx) {
    const target = 0.95;
    const rounds = 3;
    const steps = 300; // the same fine-tuning budget for both
    const total = 2 * steps;
    prune(session, 'magnitude', target);
    await finetune(session, steps, ctx, 'one shot: fine-tuning', 0, total);
    const oneShotAcc = session.scratchAccuracy('scratch');
    // Each round prunes the same fraction of what is left, as the core's iterative schedule says.
    const amount = iterativeAmount(target, rounds);
    for (let r = 0; r < rounds; r++) {
      prune(session, 'magnitude', amount, { from: r === 0 ? 'base' : 'scratch' });
      await finetune(session, steps / rounds, ctx, `iterative: round ${r + 1} of ${rounds}`, steps + (r * steps) / rounds, total);
    }
    return { target, oneShotAcc, iterativeAcc: session.scratchAccuracy('scratch'), rounds };
  },

  async 'random-baseline'(session, ctx) {
    const sparsity = 0.8;
    prune(session, 'magnitude', sparsity);
    const magnitudeAcc = session.scratchAccuracy('scratch');
    await ctx.tick(0.5, 'random');
    prune(session, 'random', sparsity);
    return { sparsity, magnitudeAcc, randomAcc: session.scratchAccuracy('scratch') };
  },

  // Q1/Q2: forward-pass time of the model's variants on this device, WebGPU when the page has it.
  async 'forward-timing'(session, ctx) {
    await ctx.tick(0, 'building the variants and timing them');
    return session.timeForward(0.8, 2000, 5);
  },

  // A few short lottery rounds: the winning ticket against a random reinitialisation.
  async 'lottery-short'(session, ctx) {
    const iters = 300;
    session.lotteryStart({
      iters, rounds: 3, rewindIter: 0, strategy: 'per-layer', controls: ['reinit'], seed: 0, evalEvery: 100, backend: 'cpu',
    });
    const finished = [];
    for (;;) {
      const p = await session.labAdvance(100);
      finished.push(...p.finished);
      if (p.done) break;
      await ctx.tick(p.fraction, `round ${p.round}, ${p.arm === 'ticket' ? 'winning ticket' : 'random reinit'}`);
    }
    const accAt = (round, arm) => finished.find((r) => r.round === round && (r.arm === arm || round === 0))?.test_acc_at_early_stop;
    const rounds = [...new Set(finished.map((r) => r.round))].map((round) => ({
      round,
      weightsRemaining: finished.find((r) => r.round === round).weights_remaining / 100,
      ticketAcc: accAt(round, 'ticket'),
      reinitAcc: accAt(round, 'reinit'),
    }));
    return { rounds, iters };
  },
};

// The questions about heads and blocks run on a ViT: the model pruning starts from when it is
// one, else the shipped ViT, handed over once (`ctx.loadVit` fetches its bytes).
async function ensureVit(session, ctx) {
  if (!session.practiceVitNeeded()) return;
  if (!ctx.loadVit) throw new Error('no ViT can be loaded here');
  session.loadPracticeVit(await ctx.loadVit());
}

const pruneVit = (session, method, extra) => session.vitScratchPrune({ method, sparsity: 0, ...extra });

/** Fine-tunes the scratch ViT `steps` steps in chunks, reporting each. */
async function finetuneVit(session, steps, ctx, label, offset, total) {
  for (let done = 0; done < steps; done += FINETUNE_CHUNK) {
    await session.vitScratchFinetune(Math.min(FINETUNE_CHUNK, steps - done));
    await ctx.tick((offset + done + FINETUNE_CHUNK) / total, label);
  }
}

const VIT_EXPERIMENTS = {
  // How many heads heads-taylor removes, one-shot, in eighths of all heads, before the test
  // accuracy falls more than one point below the unpruned model's.
  async 'heads-budget'(session, ctx) {
    await ensureVit(session, ctx);
    const dense = session.vitScratchAccuracy('base');
    const steps = [];
    for (let k = 1; k <= 7; k++) {
      const pruned = pruneVit(session, 'heads-taylor', { sparsity: k / 8, scope: 'global' });
      const accuracy = session.vitScratchAccuracy('scratch');
      steps.push({ fraction: k / 8, headsRemoved: pruned.headsRemoved, headsTotal: pruned.headsTotal, accuracy });
      await ctx.tick(k / 7, `heads-taylor without ${pruned.headsRemoved} of ${pruned.headsTotal} heads`);
      if (dense - accuracy > 0.01) break;
    }
    return { method: 'heads-taylor', dense, steps };
  },

  // Which block Block Influence removes, what that costs, and what a short fine-tune gives back.
  async 'layers-heal'(session, ctx) {
    await ensureVit(session, ctx);
    const dense = session.vitScratchAccuracy('base');
    const pruned = pruneVit(session, 'layers-bi', { remove: 1 });
    const accPruned = session.vitScratchAccuracy('scratch');
    const steps = session.vitFinetuneSteps();
    await ctx.tick(0, `healing: fine-tuning without block ${pruned.removedBlocks.join(', ')}`);
    await finetuneVit(session, steps, ctx, 'healing: fine-tuning the rest', 0, steps);
    return {
      method: 'layers-bi', removedBlocks: pruned.removedBlocks, blocks: pruned.blocks, dense, accPruned, accHealed: session.vitScratchAccuracy('scratch'), steps,
    };
  },

  // Half the heads removed: the masked model against its compacted form, timed.
  async 'heads-speed'(session, ctx) {
    await ensureVit(session, ctx);
    const pruned = pruneVit(session, 'heads-taylor', { sparsity: 0.5, scope: 'global' });
    await ctx.tick(0.2, 'timing the masked and the compacted ViT');
    const timing = session.vitScratchTime(256, 7);
    return { ...timing, headsRemoved: pruned.headsRemoved, headsTotal: pruned.headsTotal };
  },
};

// Experiments that use the session's lottery lab (one at a time with the lab card).
export const USES_LAB = new Set(['lottery-short']);

/**
 * Runs experiment `name`; `ctx.tick(fraction, text)` reports and yields (in the worker it throws
 * the protocol's Cancelled after a Cancel).
 */
export async function runExperiment(session, name, ctx) {
  const run = EXPERIMENTS[name] ?? VIT_EXPERIMENTS[name];
  if (!run) throw new Error(`no experiment called ${name}`);
  return run(session, ctx);
}
