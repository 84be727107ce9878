// The practice questions' experiments, run in the worker on the visitor's model (the shipped
// checkpoint, or the one they trained). Each strings together the scratch-model operations of a
// Practice card object (and of a LotteryLab of its own, for the lottery question), reports
// progress, stops at a Cancel between pieces, and returns the result object questions.js
// describes.

// The single-threaded build's bindings, as an embed loads them; the page's worker may run the
// threaded build instead and passes its own as `ctx.bindings`.
import * as singleThreaded from '../pkg/pruneplay.js';

const MEDIAN_OF = 5;
const FINETUNE_CHUNK = 20;

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Fine-tunes the scratch model `steps` steps in chunks, reporting each. */
async function finetune(practice, steps, ctx, label, offset = 0, total = steps) {
  for (let done = 0; done < steps; done += FINETUNE_CHUNK) {
    // A promise: on WebGPU a chunk awaits its read-back.
    await practice.scratchFinetune(Math.min(FINETUNE_CHUNK, steps - done));
    await ctx.tick((offset + done + FINETUNE_CHUNK) / total, label);
  }
}

const prune = (practice, method, sparsity, extra = {}) =>
  practice.scratchPrune({ method, sparsity, ...extra }, extra.from ?? 'base');

const EXPERIMENTS = {
  async 'finetune-recovery'(practice, ctx) {
    const sparsity = 0.5;
    const steps = 200;
    prune(practice, 'magnitude', sparsity);
    const accBefore = practice.scratchAccuracy('base');
    const accPruned = practice.scratchAccuracy('scratch');
    await finetune(practice, steps, ctx, 'fine-tuning the pruned network');
    return { sparsity, method: 'magnitude', accBefore, accPruned, accFinetuned: practice.scratchAccuracy('scratch'), steps };
  },

  async 'structured-compaction'(practice, ctx) {
    const sparsity = 0.5;
    prune(practice, 'structured-l1', sparsity);
    const accPruned = practice.scratchAccuracy('scratch');
    const info = practice.scratchCompact();
    const masked = [];
    const compacted = [];
    // Alternating runs, so a slow moment of the machine hits both alike.
    for (let i = 0; i < MEDIAN_OF; i++) {
      for (const [which, times] of [['masked', masked], ['compacted', compacted]]) {
        const t0 = performance.now();
        practice.scratchForward(which);
        times.push(performance.now() - t0);
      }
      await ctx.tick((i + 1) / MEDIAN_OF, 'timing both forward passes on the 10,000 test images');
    }
    return { sparsity, arch: info.arch, params: info.params, paramsDense: info.paramsDense, msMasked: median(masked), msCompacted: median(compacted), accPruned };
  },

  async 'sparsegpt-vs-magnitude'(practice, ctx) {
    const levels = [0.5, 0.6, 0.7];
    const methods = ['magnitude', 'wanda', 'sparsegpt'];
    const points = [];
    for (const [i, sparsity] of levels.entries()) {
      const point = { sparsity };
      for (const [j, method] of methods.entries()) {
        prune(practice, method, sparsity);
        point[method] = practice.scratchAccuracy('scratch');
        await ctx.tick((i * methods.length + j + 1) / (levels.length * methods.length), `${method} at ${sparsity}`);
      }
      points.push(point);
    }
    return { points };
  },

  async 'global-layers'(practice) {
    const sparsity = 0.8;
    return { sparsity, layers: prune(practice, 'global-magnitude', sparsity).layers };
  },

  async 'wanda-pixels'(practice, ctx) {
    const sparsity = 0.5;
    const wanda = prune(practice, 'wanda', sparsity);
    await ctx.tick(0.5, 'Wanda');
    const magnitude = prune(practice, 'magnitude', sparsity);
    return {
      sparsity,
      borderPruned: wanda.framePruned,
      centrePruned: wanda.centrePruned,
      magnitudeBorderPruned: magnitude.framePruned,
      magnitudeCentrePruned: magnitude.centrePruned,
      keptWanda: wanda.keptPerPixel,
      keptMagnitude: magnitude.keptPerPixel,
    };
  },

  async 'nm-row'(practice) {
    const r = prune(practice, 'magnitude', 0.5, { pattern: '2:4' });
    return {
      n: 2, m: 4, row: Array.from(r.rowSegment), keptPerGroup: r.keptPerGroup, weightsRemaining: r.weightsRemaining,
    };
  },

  async 'iterative-vs-oneshot'(practice, ctx) {
    const target = 0.95;
    const rounds = 3;
    const steps = 300; // the same fine-tuning budget for both
    const total = 2 * steps;
    prune(practice, 'magnitude', target);
    await finetune(practice, steps, ctx, 'one shot: fine-tuning', 0, total);
    const oneShotAcc = practice.scratchAccuracy('scratch');
    // Each round prunes the same fraction of what is left, as the core's iterative schedule says.
    const amount = (ctx.bindings ?? singleThreaded).iterativeAmount(target, rounds);
    for (let r = 0; r < rounds; r++) {
      prune(practice, 'magnitude', amount, { from: r === 0 ? 'base' : 'scratch' });
      await finetune(practice, steps / rounds, ctx, `iterative: round ${r + 1} of ${rounds}`, steps + (r * steps) / rounds, total);
    }
    return { target, oneShotAcc, iterativeAcc: practice.scratchAccuracy('scratch'), rounds };
  },

  async 'random-baseline'(practice, ctx) {
    const sparsity = 0.8;
    prune(practice, 'magnitude', sparsity);
    const magnitudeAcc = practice.scratchAccuracy('scratch');
    await ctx.tick(0.5, 'random');
    prune(practice, 'random', sparsity);
    return { sparsity, magnitudeAcc, randomAcc: practice.scratchAccuracy('scratch') };
  },

  // Q1/Q2: forward-pass time of the model's variants on this device, WebGPU when the page has it.
  async 'forward-timing'(practice, ctx) {
    await ctx.tick(0, 'building the variants and timing them');
    return practice.timeForward(0.8, 2000, 5);
  },

  // A few short lottery rounds: the winning ticket against a random reinitialisation.
  async 'lottery-short'(_practice, ctx, lab) {
    const iters = 300;
    lab.lotteryStart({
      iters, rounds: 3, rewindIter: 0, strategy: 'per-layer', controls: ['reinit'], seed: 0, evalEvery: 100,
    });
    const finished = [];
    for (;;) {
      const p = await lab.labAdvance(100);
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
async function ensureVit(practice, ctx) {
  if (!practice.practiceVitNeeded()) return;
  if (!ctx.loadVit) throw new Error('no ViT can be loaded here');
  practice.loadPracticeVit(await ctx.loadVit());
}

const pruneVit = (practice, method, extra) => practice.vitScratchPrune({ method, sparsity: 0, ...extra });

/** Fine-tunes the scratch ViT `steps` steps in chunks, reporting each. */
async function finetuneVit(practice, steps, ctx, label, offset, total) {
  for (let done = 0; done < steps; done += FINETUNE_CHUNK) {
    await practice.vitScratchFinetune(Math.min(FINETUNE_CHUNK, steps - done));
    await ctx.tick((offset + done + FINETUNE_CHUNK) / total, label);
  }
}

const VIT_EXPERIMENTS = {
  // How many heads heads-taylor removes, one-shot, in eighths of all heads, before the test
  // accuracy falls more than one point below the unpruned model's.
  async 'heads-budget'(practice, ctx) {
    await ensureVit(practice, ctx);
    const dense = practice.vitScratchAccuracy('base');
    const steps = [];
    for (let k = 1; k <= 7; k++) {
      const pruned = pruneVit(practice, 'heads-taylor', { sparsity: k / 8, scope: 'global' });
      const accuracy = practice.vitScratchAccuracy('scratch');
      steps.push({ fraction: k / 8, headsRemoved: pruned.headsRemoved, headsTotal: pruned.headsTotal, accuracy });
      await ctx.tick(k / 7, `heads-taylor without ${pruned.headsRemoved} of ${pruned.headsTotal} heads`);
      if (dense - accuracy > 0.01) break;
    }
    return { method: 'heads-taylor', dense, steps };
  },

  // Which block Block Influence removes, what that costs, and what a short fine-tune gives back.
  async 'layers-heal'(practice, ctx) {
    await ensureVit(practice, ctx);
    const dense = practice.vitScratchAccuracy('base');
    const pruned = pruneVit(practice, 'layers-bi', { remove: 1 });
    const accPruned = practice.vitScratchAccuracy('scratch');
    const steps = practice.vitFinetuneSteps();
    await ctx.tick(0, `healing: fine-tuning without block ${pruned.removedBlocks.join(', ')}`);
    await finetuneVit(practice, steps, ctx, 'healing: fine-tuning the rest', 0, steps);
    return {
      method: 'layers-bi', removedBlocks: pruned.removedBlocks, blocks: pruned.blocks, dense, accPruned, accHealed: practice.vitScratchAccuracy('scratch'), steps,
    };
  },

  // Half the heads removed: the masked model against its compacted form, timed.
  async 'heads-speed'(practice, ctx) {
    await ensureVit(practice, ctx);
    const pruned = pruneVit(practice, 'heads-taylor', { sparsity: 0.5, scope: 'global' });
    await ctx.tick(0.2, 'timing the masked and the compacted ViT');
    const timing = practice.vitScratchTime(256, 7);
    return { ...timing, headsRemoved: pruned.headsRemoved, headsTotal: pruned.headsTotal };
  },
};

/**
 * Runs experiment `name` on `practice` (and `lab`, a LotteryLab); `ctx.tick(fraction, text)`
 * reports and yields (in the worker it throws the protocol's Cancelled after a Cancel).
 */
export async function runExperiment({ practice, lab }, name, ctx) {
  const run = EXPERIMENTS[name] ?? VIT_EXPERIMENTS[name];
  if (!run) throw new Error(`no experiment called ${name}`);
  return run(practice, ctx, lab);
}
