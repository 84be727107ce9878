// Practice mode: questions about pruning, each answerable by an experiment the page runs on the
// visitor's own model. Plain text only (the page sets textContent); no imports, no DOM access.
//
// Every `describe(result)` turns one experiment's result into 1–3 sentences with its numbers. They
// never throw on the documented shapes (missing variants or fields read as "n/a"), and they say so
// when the numbers measured on this device do not support the answer.

// ---------------------------------------------------------------------------------------------
// Formatting helpers

const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
const obj = (x) => (x && typeof x === 'object' ? x : {});
const list = (x) => (Array.isArray(x) ? x.filter((e) => e && typeof e === 'object') : []);

/** A fraction as a percentage with `d` decimals (1–2). */
const pct = (f, d = 2) => (isNum(f) ? `${(100 * f).toFixed(d)}%` : 'n/a');
/** A sparsity or share of weights: one decimal. */
const share = (f) => pct(f, 1);
/** The gap between two fractions in percentage points (absolute value). */
const points = (a, b) => (isNum(a) && isNum(b) ? `${Math.abs(100 * (a - b)).toFixed(2)} points` : 'n/a');

/** Milliseconds with as many decimals as small times need. */
function ms(x) {
  if (!isNum(x)) return 'n/a';
  const d = x < 0.1 ? 3 : x < 10 ? 2 : 1;
  return `${x.toFixed(d)} ms`;
}

/** An integer with comma thousands separators, independent of the browser's locale. */
function count(x) {
  if (!isNum(x)) return 'n/a';
  const s = String(Math.round(Math.abs(x)));
  return (x < 0 ? '-' : '') + s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Bytes in decimal units. */
function bytes(x) {
  if (!isNum(x)) return 'n/a';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} MB`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} kB`;
  return `${Math.round(x)} bytes`;
}

/** A small difference: scientific notation below 1e-3. */
function tiny(x) {
  if (!isNum(x)) return 'n/a';
  if (x === 0) return '0';
  return Math.abs(x) < 1e-3 ? x.toExponential(1) : x.toFixed(4);
}

/** Speed of `t` relative to the dense time `base`, in words. */
function relSpeed(base, t) {
  if (!isNum(base) || !isNum(t) || base <= 0 || t <= 0) return 'no comparison with dense';
  const s = base / t;
  if (s >= 1.05) return `${s.toFixed(2)}× faster than dense`;
  if (s <= 1 / 1.05) return `${(1 / s).toFixed(2)}× slower than dense`;
  return 'about the same as dense';
}

/** `num / den` as a percentage, or n/a. */
function ratioPct(num, den, d = 1) {
  return isNum(num) && isNum(den) && den > 0 ? pct(num / den, d) : 'n/a';
}

/** forward-timing variants by name; entries without a name are dropped. */
function variantsByName(result) {
  const out = {};
  for (const v of list(obj(result).variants)) if (typeof v.name === 'string') out[v.name] = v;
  return out;
}

/** "On this device (WebGPU, batch 128)". */
function deviceLabel(result) {
  const r = obj(result);
  const backend = r.backend === 'webgpu' ? 'WebGPU' : r.backend === 'cpu' ? 'the CPU path, without WebGPU' : 'an unknown backend';
  const batch = isNum(r.batch) ? `, batch ${count(r.batch)}` : '';
  return `On this device (${backend}${batch})`;
}

/** Fallback when the dense reference is missing: list whatever was timed. */
function listTimings(result, names) {
  const v = variantsByName(result);
  const present = names.filter((n) => v[n]);
  if (present.length === 0) return 'The experiment returned no timings for these variants, so there is nothing to compare on this device.';
  const items = present.map((n) => `${n} ${ms(v[n].ms)}`).join(', ');
  return `${deviceLabel(result)}: ${items}. The dense timing is missing, so the speeds cannot be compared with it.`;
}

// ---------------------------------------------------------------------------------------------
// The questions

export const QUESTIONS = [
  // ---- The five questions the seed glossary ends with, in the project's own words ----
  {
    id: 'sparse-speed',
    title: 'Why is 80% sparse not 5× faster?',
    prompt:
      'You set 80% of a trained network\'s weights to zero, so on paper only a fifth of the multiplications are left. ' +
      'Run on an ordinary GPU, the model is about as slow as before. What is the main reason?',
    choices: [
      'The GPU tests every weight for zero before multiplying, and those tests cost as much as the multiplications they save.',
      'The time goes into reading the input images, not into the weights, so removing weights cannot help.',
      'The dense matrix kernel still loads and multiplies every zero, so the work is unchanged unless a sparse kernel, 2:4 hardware or a smaller shape is used.',
      'Zeroed weights drift away from zero during inference, so the model is not really 80% sparse when it runs.',
    ],
    answer: 2,
    explanation:
      'Masking keeps the matrices at their full size: the zeros are stored like any other number, and a standard matrix multiply walks through every entry and multiplies it. ' +
      'The arithmetic, the memory read and the bytes stored therefore stay exactly what they were. ' +
      'To turn zeros into saved time, something has to know where they are: a sparse format such as CSR that keeps only the nonzeros and their positions, hardware built around a fixed pattern such as 2:4, or deleting whole neurons so the matrices shrink. ' +
      'Even CSR is not free, since looking up indices and reading scattered inputs costs time, so it tends to win only at high sparsity. ' +
      'The point to remember: zeros save time only when the kernel or the chip is designed to skip them.',
    experiment: 'forward-timing',
    runLabel: 'Time the forward pass on this device',
    describe(result) {
      const v = variantsByName(result);
      const d = v.dense;
      const mk = v['masked-80'];
      const csr = v['csr-80'];
      if (!d) return listTimings(result, ['masked-80', 'csr-80', 'compacted', '2:4-dense', '2:4-packed']);
      const out = [];
      if (mk) {
        const sameWork = isNum(mk.flops) && isNum(d.flops) && Math.abs(mk.flops - d.flops) <= 0.01 * d.flops;
        const work = sameWork
          ? `both doing ${count(d.flops)} FLOPs per image`
          : `counted as ${count(mk.flops)} FLOPs per image against ${count(d.flops)}, though its dense kernel still multiplies every entry`;
        const gap = isNum(mk.ms) && isNum(d.ms) && d.ms > 0 && Math.abs(mk.ms / d.ms - 1) > 0.1
          ? '; a gap between two runs of the same kernel on the same number of values is most likely timing noise'
          : '';
        out.push(`${deviceLabel(result)} the dense model took ${ms(d.ms)} per batch and the 80%-masked one ${ms(mk.ms)}, ${relSpeed(d.ms, mk.ms)}, ${work}${gap}.`);
      } else {
        out.push(`${deviceLabel(result)} the dense model took ${ms(d.ms)} per batch (${count(d.flops)} FLOPs per image); the masked timing is missing.`);
      }
      if (csr) {
        const speedup = isNum(d.ms) && isNum(csr.ms) && csr.ms > 0 ? d.ms / csr.ms : NaN;
        const promise = isNum(d.flops) && isNum(csr.flops) && csr.flops > 0 ? d.flops / csr.flops : NaN;
        let verdict;
        if (!isNum(speedup)) {
          verdict = 'its time could not be compared';
        } else if (speedup >= 1.05) {
          verdict = isNum(promise) && speedup < 0.9 * promise
            ? `${relSpeed(d.ms, csr.ms)}, yet short of the ${promise.toFixed(1)}× its FLOP count promises, because reading indices and scattered inputs costs extra`
            : `${relSpeed(d.ms, csr.ms)}, about what its FLOP count promises`;
        } else {
          verdict = `${relSpeed(d.ms, csr.ms)}: on this device the index lookups and scattered memory reads cost more than the skipped multiply-adds, which is common at 80% on a CPU or a software GPU, and CSR usually needs a higher sparsity to win`;
        }
        out.push(`The CSR kernel, which keeps only the nonzeros (${bytes(csr.bytes)} of weights against ${bytes(d.bytes)}), took ${ms(csr.ms)}, ${verdict}.`);
      } else {
        out.push('The CSR timing is missing on this device, so only the dense kernels can be compared.');
      }
      const tail = [];
      if (v.compacted) tail.push(`the compacted structured model, whose matrices really are smaller, took ${ms(v.compacted.ms)} (${relSpeed(d.ms, v.compacted.ms)})`);
      if (csr && isNum(csr.maxAbsDiff)) tail.push(`the CSR outputs differ from the masked dense ones by at most ${tiny(csr.maxAbsDiff)}`);
      if (tail.length) out.push(`For comparison, ${tail.join(', and ')}.`);
      return out.join(' ');
    },
  },
  {
    id: 'structured-production',
    title: 'Why structured pruning for production?',
    prompt:
      'Teams that ship pruned models to ordinary servers and phones usually remove whole neurons or channels rather than scattered single weights. Why?',
    choices: [
      'Structured pruning keeps more accuracy than unstructured pruning at the same number of remaining weights.',
      'Removing whole neurons leaves a smaller dense network that standard matrix-multiply libraries run faster, with no special kernel or hardware.',
      'Only structured pruning makes the saved model file smaller.',
      'Unstructured pruning cannot be undone, while removed neurons can be added back later.',
    ],
    answer: 1,
    explanation:
      'When neuron j of a hidden layer goes, row j of the matrix feeding it, its bias and column j of the matrix reading from it can all be deleted, which leaves an ordinary dense network with smaller shapes. ' +
      'Any BLAS, cuBLAS or WebGPU matrix multiply runs that as it is, and fewer rows and columns mean proportionally fewer multiply-adds and fewer bytes to move. ' +
      'Taking half the hidden neurons of LeNet-300-100, for instance, gives 784-150-50-10 with 125,810 parameters instead of 266,610, and in this project that model ran about twice as fast on the CPU. ' +
      'The price is a coarser cut: right after pruning, structured methods lose more accuracy than unstructured ones at a similar sparsity (93.94% against 97.50% at 50% here), although one epoch of fine-tuning brought both back to about 98%. ' +
      'The idea to keep: structured pruning gets its speed from shrinking the matrices, not from zeros.',
    experiment: 'structured-compaction',
    runLabel: 'Compact a neuron-pruned model and time it',
    describe(result) {
      const r = obj(result);
      const out = [];
      out.push(`Removing ${share(r.sparsity)} of the hidden neurons left a ${typeof r.arch === 'string' ? r.arch : 'smaller'} network with ${count(r.params)} parameters, ${ratioPct(r.params, r.paramsDense)} of the dense ${count(r.paramsDense)}.`);
      if (isNum(r.msMasked) && isNum(r.msCompacted) && r.msCompacted > 0) {
        const s = r.msMasked / r.msCompacted;
        if (s >= 1.05) {
          out.push(`On this device its forward pass took ${ms(r.msCompacted)} against ${ms(r.msMasked)} for the same pruning kept as a mask on the full shapes, ${s.toFixed(2)}× faster.`);
        } else {
          out.push(`On this device it took ${ms(r.msCompacted)} against ${ms(r.msMasked)} for the masked full-size model, so the smaller shape did not show a speed-up here; with a network this small, fixed costs such as launching kernels and reading results back can hide the saved arithmetic.`);
        }
      } else {
        out.push('The timings are missing, so the speed of the two versions cannot be compared on this device.');
      }
      out.push(`Test accuracy right after pruning, before any fine-tuning: ${pct(r.accPruned)}.`);
      return out.join(' ');
    },
  },
  {
    id: 'lottery-ticket',
    title: 'What does the lottery ticket hypothesis claim?',
    prompt:
      'Frankle and Carbin (2019) proposed the lottery ticket hypothesis after pruning and retraining networks such as LeNet-300-100 again and again. Which statement matches it?',
    choices: [
      'Any random subnetwork of the same size trains as well as the full network, so which weights you keep does not matter.',
      'A freshly initialised network contains a sparse subnetwork that, trained on its own from the same starting values, can match the full network\'s accuracy.',
      'A pruned network trains best if its surviving weights get new random starting values, a fresh draw.',
      'Large networks are accurate because training many copies and keeping the luckiest random seed is cheap.',
    ],
    answer: 1,
    explanation:
      'The ticket is found by training the dense network, pruning its smallest-magnitude weights (on LeNet, 20% of each hidden layer and 10% of the output layer per round), and setting the survivors back to the exact values they started from, θ₀, before training again. ' +
      'Repeating this yields ever sparser subnetworks that still train to the dense accuracy. ' +
      'The decisive control keeps the same mask but draws new starting values: those reinitialised networks learn more slowly and lose accuracy once only about a fifth of the weights remain, while the real tickets held up to about 3% on LeNet. ' +
      'So what wins is the mask together with its original initial weights; for larger networks, later work rewinds to weights from early in training, θ_k, instead of θ₀. ' +
      'Note that finding a ticket still takes full training runs: the hypothesis helps explain why big networks train well, it is not a shortcut to training small ones.',
    experiment: 'lottery-short',
    runLabel: 'Run a few lottery rounds',
    describe(result) {
      const r = obj(result);
      const rounds = list(r.rounds).slice().sort((a, b) => (isNum(a.round) && isNum(b.round) ? a.round - b.round : 0));
      if (rounds.length === 0) return 'The experiment returned no rounds, so there is nothing to compare yet.';
      const last = rounds[rounds.length - 1];
      const iters = isNum(r.iters) ? `, after ${count(r.iters)} training iterations` : '';
      const out = [];
      const which = isNum(last.round) ? ` (round ${count(last.round)})` : '';
      out.push(`In the last round${which}${iters}, with ${share(last.weightsRemaining)} of the weights remaining, the ticket, reset to its original initial values, reached ${pct(last.ticketAcc)} test accuracy, and the same mask with fresh random values reached ${pct(last.reinitAcc)}.`);
      if (isNum(last.ticketAcc) && isNum(last.reinitAcc)) {
        const diff = last.ticketAcc - last.reinitAcc;
        if (diff > 0.002) {
          out.push(`The ticket is ahead by ${points(last.ticketAcc, last.reinitAcc)}, the effect the hypothesis predicts.`);
        } else if (diff >= -0.002) {
          out.push(`The two are within ${points(last.ticketAcc, last.reinitAcc)} of each other, too close to call from one short run; on LeNet the published gap opens up once fewer than about 21% of the weights remain.`);
        } else {
          out.push(`Here the reinitialised network came out ahead by ${points(last.ticketAcc, last.reinitAcc)}, which does not support the hypothesis on this run; short training and moderate sparsity make this comparison noisy, and the published gap shows mainly below about 21% of the weights.`);
        }
      }
      // Rounds with every weight left compare the dense network with itself: leave them out.
      const compared = rounds.filter((x) => isNum(x.ticketAcc) && isNum(x.reinitAcc)
        && !(isNum(x.weightsRemaining) && x.weightsRemaining >= 0.999));
      if (compared.length > 1) {
        const wins = compared.filter((x) => x.ticketAcc > x.reinitAcc).length;
        out.push(`Over the ${compared.length} pruned rounds, the ticket beat the reinitialised network in ${wins}.`);
      }
      return out.join(' ');
    },
  },
  {
    id: 'finetune-recovery',
    title: 'Accuracy fell at 50% sparsity: what now?',
    prompt:
      'You prune half the weights of a trained network by magnitude and its test accuracy drops noticeably. What is the standard fix?',
    choices: [
      'Multiply the remaining weights by 2 so that each neuron receives as much input as before.',
      'Accept the loss or lower the sparsity: accuracy taken by pruning cannot be won back by more training.',
      'Put the pruned weights back and remove a different, randomly chosen half instead.',
      'Keep training the pruned network for a while with the mask held fixed, so the remaining weights take over the work of the removed ones.',
    ],
    answer: 3,
    explanation:
      'The surviving weights were learned together with the ones just removed, so right after pruning they no longer add up to the right outputs. ' +
      'A short spell of ordinary training on the same task, with the pruned weights kept at zero in the forward pass and in every update, lets the survivors shift to cover for the missing ones. ' +
      'In this project one epoch of such fine-tuning brought every pruning method to within 0.3 points of the dense 98.00% at 50% sparsity. ' +
      'Doubling the kept weights does not work because the removed weights were the small ones, not a fair half of each sum, and a random half throws away weights that mattered. ' +
      'For higher targets, prune in several smaller steps with fine-tuning in between (iterative pruning), which loses less than one big cut.',
    experiment: 'finetune-recovery',
    runLabel: 'Prune, then fine-tune',
    describe(result) {
      const r = obj(result);
      const method = typeof r.method === 'string' && r.method ? r.method : 'the chosen method';
      const steps = isNum(r.steps) ? `${count(r.steps)} fine-tuning steps` : 'Fine-tuning';
      const out = [];
      out.push(`Pruning ${share(r.sparsity)} of the weights with ${method} took test accuracy from ${pct(r.accBefore)} to ${pct(r.accPruned)}, a drop of ${points(r.accBefore, r.accPruned)}.`);
      if (![r.accBefore, r.accPruned, r.accFinetuned].every(isNum)) {
        out.push(`After fine-tuning it stands at ${pct(r.accFinetuned)}; some numbers are missing, so the recovery cannot be measured.`);
        return out.join(' ');
      }
      const drop = r.accBefore - r.accPruned;
      const gain = r.accFinetuned - r.accPruned;
      if (gain > 0 && drop > 0) {
        const recovered = gain >= drop
          ? 'more than the whole drop'
          : `${(100 * gain / drop).toFixed(1)}% of the drop`;
        out.push(`${steps} with the mask held brought it to ${pct(r.accFinetuned)}, recovering ${recovered}.`);
      } else if (gain > 0) {
        out.push(`${steps} with the mask held brought it to ${pct(r.accFinetuned)}.`);
      } else {
        out.push(`${steps} did not raise it on this run (${pct(r.accFinetuned)}); too few steps, or a learning rate that disturbs the kept weights, can do that, so try a longer fine-tune.`);
      }
      if (drop < 0.005) out.push('The drop was small on your model at this sparsity, so there was little to win back; a higher sparsity shows the effect more clearly.');
      return out.join(' ');
    },
  },
  {
    id: 'sparsegpt-oneshot',
    title: 'How does SparseGPT avoid fine-tuning?',
    prompt:
      'SparseGPT prunes large language models to 50–60% sparsity in a single pass, with no retraining afterwards, and loses little accuracy. How does it manage that?',
    choices: [
      'It computes the Hessian of the whole network\'s training loss, removes the weights it marks as least important, then runs a brief gradient-based retraining.',
      'It removes the weights whose input activations are smallest and leaves every kept weight exactly as it was.',
      'Layer by layer, it removes weights that are cheap to lose on a few calibration inputs and adjusts the remaining weights of each row to cancel the error, using the inverse of H = 2XXᵀ.',
      'It prunes a random half of each layer, relying on very large models having so much redundancy that nothing is lost.',
    ],
    answer: 2,
    explanation:
      'SparseGPT treats one layer at a time and asks that the pruned layer give nearly the same outputs as the dense one on a small calibration set (128 samples by default), that is, it minimises ‖WX − (M⊙Ŵ)X‖². ' +
      'The Hessian of that layer-wise squared error is H = 2XXᵀ, built only from the layer\'s own inputs: it is not the Hessian of the network\'s loss, and it needs neither labels nor gradients. ' +
      'As in Optimal Brain Surgeon, removing weight m costs about w_m² / [H⁻¹]_mm, and the best correction moves the row\'s other weights along the matching column of H⁻¹. ' +
      'It walks through the columns from left to right, updating the weights not yet visited after each one, and every row shares the same factorisation of H⁻¹, which is what lets it handle models with over a hundred billion weights in a few GPU-hours. ' +
      'On this project\'s LeNet, one-shot pruning at 50% gave 97.75% with SparseGPT against 97.50% with plain magnitude, and 65.55% against 50.90% at 90%.',
    experiment: 'sparsegpt-vs-magnitude',
    runLabel: 'Compare one-shot methods on your model',
    describe(result) {
      const pts = list(obj(result).points).filter((p) => isNum(p.sparsity))
        .sort((a, b) => a.sparsity - b.sparsity);
      if (pts.length === 0) return 'The experiment returned no points, so there is nothing to compare yet.';
      const items = pts.map((p) => {
        const parts = [`magnitude ${pct(p.magnitude)}`, `SparseGPT ${pct(p.sparsegpt)}`];
        if (isNum(p.wanda)) parts.push(`Wanda ${pct(p.wanda)}`);
        return `at ${share(p.sparsity)}, ${parts.join(', ')}`;
      });
      const out = [`Test accuracy right after one-shot pruning, with no fine-tuning: ${items.join('; ')}.`];
      const both = pts.filter((p) => isNum(p.magnitude) && isNum(p.sparsegpt));
      if (both.length === 0) {
        out.push('Some accuracies are missing, so SparseGPT and magnitude cannot be compared here.');
        return out.join(' ');
      }
      const ahead = both.filter((p) => p.sparsegpt > p.magnitude);
      const best = Math.max(...both.map((p) => p.sparsegpt - p.magnitude));
      if (ahead.length === both.length) {
        out.push(`SparseGPT beat magnitude at every sparsity tried, by up to ${(100 * best).toFixed(2)} points, because it corrects the kept weights for what it removes.`);
      } else if (ahead.length === 0) {
        out.push('On your model SparseGPT did not beat magnitude at any of these sparsities; at 50–60% an MLP this small loses little either way, so gaps of a few tenths of a point are within run-to-run noise, and SparseGPT\'s advantage tends to show more clearly at higher sparsity.');
      } else {
        out.push(`SparseGPT beat magnitude at ${ahead.length} of ${both.length} sparsities; where the gap is only a few tenths of a point, it is within run-to-run noise on 10,000 test images.`);
      }
      return out.join(' ');
    },
  },

  // ---- Questions the playground answers on the visitor's model ----
  {
    id: 'global-layers',
    title: 'Which layer does global pruning thin most?',
    prompt:
      'Global magnitude pruning ranks the weights of all layers together and removes the smallest ones wherever they sit. ' +
      'On LeNet-300-100 (784-300-100-10), which layer loses the largest share of its weights, and why?',
    choices: [
      'All three lose the same share, because global pruning applies one percentage to every layer.',
      'The output layer, because it has the fewest weights and each of them matters least.',
      'The first layer (784 to 300), because its weights are typically the smallest: a large fan-in means small initial values, and weights from blank border pixels never get a gradient to grow.',
      'The middle layer, because it sits farthest from both the pixels and the labels.',
    ],
    answer: 2,
    explanation:
      'One threshold is applied to every weight in the network, so a layer loses a large share when its weights tend to be small, whatever its position. ' +
      'Initialisation scales each layer\'s weights down with its number of inputs and outputs, so the 784-input first layer starts with the smallest values, and about half of its inputs are border pixels that are blank in nearly every MNIST image, so their weights receive no gradient and never grow past their small starting values. ' +
      'The output layer starts with the largest weights and every one of them feeds a class score, so it keeps most of them. ' +
      'This uneven split is why global pruning held up better here than cutting every layer by the same amount at high sparsity (75.99% against 50.90% at 90%, before fine-tuning). ' +
      'The flip side: in other networks a single threshold can empty a small layer almost completely, so always check the per-layer counts.',
    experiment: 'global-layers',
    runLabel: 'Prune globally and count per layer',
    describe(result) {
      const r = obj(result);
      const layers = list(r.layers).filter((l) => isNum(l.weights) && l.weights > 0 && isNum(l.remaining));
      if (layers.length === 0) return 'The experiment returned no per-layer counts, so there is nothing to compare yet.';
      const name = (l, i) => (typeof l.name === 'string' && l.name ? l.name : `layer ${i + 1}`);
      const items = layers.map((l, i) => `${name(l, i)} ${pct(l.remaining / l.weights, 1)} (${count(l.remaining)} of ${count(l.weights)})`);
      const out = [`Global magnitude pruning to ${share(r.sparsity)} kept ${items.join(', ')}.`];
      let thin = 0;
      let big = 0;
      layers.forEach((l, i) => {
        if (l.remaining / l.weights < layers[thin].remaining / layers[thin].weights) thin = i;
        if (l.weights > layers[big].weights) big = i;
      });
      if (layers.length > 1) {
        if (thin === big) {
          out.push(`The most thinned layer on your model is ${name(layers[thin], thin)}, the large first layer, where the smallest weights sit, as the explanation expects.`);
        } else {
          out.push(`On your model the most thinned layer is ${name(layers[thin], thin)}, not the large first layer ${name(layers[big], big)}, which differs from the usual picture for this network; the sizes the weights reached in training decide it, so compare the layers' weight histograms.`);
        }
      }
      return out.join(' ');
    },
  },
  {
    id: 'wanda-border',
    title: 'What does Wanda prune first on MNIST?',
    prompt:
      'Wanda scores each weight by its magnitude times the typical size of the input it multiplies, measured on a few calibration images. ' +
      'On MNIST, which first-layer weights does it remove first?',
    choices: [
      'Weights from the centre pixels, because the digits vary most there and those inputs look like noise.',
      'Weights from the pixels near the image border, because those pixels are blank in almost every image, so the score is zero however large the weight is.',
      'The same weights as magnitude pruning, because multiplying by the input size rescales every score in a row by the same factor.',
      'The largest weights, because big weights on rarely active inputs are a sign of overfitting.',
    ],
    answer: 1,
    explanation:
      'Wanda\'s score is S_ij = |W_ij| · ‖X_j‖₂, the weight\'s magnitude times the norm of input j over the calibration samples, and weights compete only within their own output row. ' +
      'MNIST digits were scaled to fit a 20×20 box and centred in the 28×28 image, so the 4-pixel frame around it is almost always zero, and every weight that reads a frame pixel scores zero or nearly so. ' +
      'Such weights cannot change the output, so removing them first costs nothing. ' +
      'Magnitude pruning sees only |W|, and because a blank pixel gives its weights no gradient, they stay at their random initial values; some are large enough to survive while useful central weights are cut. ' +
      'The lesson: a weight matters only as much as the signal that passes through it.',
    experiment: 'wanda-pixels',
    runLabel: 'Compare Wanda and magnitude on the pixels',
    describe(result) {
      const r = obj(result);
      const out = [`At ${share(r.sparsity)} sparsity, Wanda pruned ${pct(r.borderPruned, 1)} of the first-layer weights that read the 4-pixel border and ${pct(r.centrePruned, 1)} of those reading the central 12×12 pixels; magnitude pruning removed ${pct(r.magnitudeBorderPruned, 1)} and ${pct(r.magnitudeCentrePruned, 1)}.`];
      if (![r.borderPruned, r.centrePruned, r.magnitudeBorderPruned].every(isNum)) {
        out.push('Some shares are missing, so the two methods cannot be compared fully.');
        return out.join(' ');
      }
      const borderFirst = r.borderPruned > r.centrePruned;
      const moreThanMag = r.borderPruned > r.magnitudeBorderPruned;
      if (borderFirst && moreThanMag) {
        out.push('Wanda concentrates its cuts on the border, where the inputs are blank, while magnitude spreads them more evenly over the image.');
      } else if (borderFirst) {
        out.push('Wanda does favour the border over the centre, but on your model magnitude pruning removed as much of the border or more, so here the two differ less than the explanation suggests.');
      } else {
        out.push('On your model Wanda did not prune the border more than the centre, which does not match the explanation; check how many calibration images were used and whether the border pixels were really blank in them.');
      }
      return out.join(' ');
    },
  },
  {
    id: 'nm-row',
    title: 'What does 2:4 sparsity mean for a row?',
    prompt:
      'A layer is pruned to the 2:4 pattern that NVIDIA\'s Ampere sparse tensor cores accelerate. What does that require of each row of its weight matrix?',
    choices: [
      'Two of every four rows (output neurons) are removed entirely.',
      'Each weight is stored in 2 bits instead of 4.',
      'Any half of the row\'s weights may be zeroed, as long as the row ends up 50% sparse overall.',
      'In every group of 4 consecutive weights along the row, at most 2 are nonzero, so the row is 50% sparse with the zeros spread evenly.',
    ],
    answer: 3,
    explanation:
      'N:M sparsity cuts each row of input weights into consecutive groups of M and keeps at most N per group; for 2:4 the best two of every four survive (by magnitude or another score), which fixes the sparsity at 50%. ' +
      'Because every group looks alike, the hardware can store just the two kept values plus a 2-bit position for each, and sparse tensor cores on Ampere and later GPUs skip the zeros for up to about twice the matrix-multiply throughput. ' +
      'The rule is stricter than free 50% pruning, since a group holding four important weights must still lose two, so accuracy suffers a little more: on LLaMA-2-7B, SparseGPT reached a perplexity of 10.17 with 2:4 against 6.51 with unstructured 50% (dense 5.12). ' +
      'It is not structured pruning either: no neuron disappears, and without sparse tensor cores or a kernel that uses the pattern, a 2:4 model stored densely runs no faster.',
    experiment: 'nm-row',
    runLabel: 'Show a 2:4-pruned row of your model',
    describe(result) {
      const r = obj(result);
      const n = isNum(r.n) ? r.n : 2;
      const m = isNum(r.m) && r.m > 0 ? Math.round(r.m) : 4;
      const row = Array.isArray(r.row) ? r.row : [];
      if (row.length === 0) return 'The experiment returned no weights, so there is no row to show yet.';
      const fmt = (w) => (isNum(w) ? (w === 0 ? '0' : w.toFixed(3)) : '?');
      const groups = [];
      for (let i = 0; i < row.length; i += m) groups.push(row.slice(i, i + m));
      // Counted by the core from the mask: a kept weight can itself be exactly zero.
      const kept = Array.isArray(r.keptPerGroup) ? r.keptPerGroup : [];
      const out = [`${row.length} consecutive weights from the middle of one first-layer row (pixels at the centre of the image) after ${n}:${m} magnitude pruning, in groups of ${m}: ${groups.map((g) => g.map(fmt).join(' ')).join(' | ')}.`];
      const over = kept.filter((k) => isNum(k) && k > n).length;
      const under = kept.filter((k) => isNum(k) && k < n).length;
      let check = `Nonzeros kept per group: ${kept.map((k) => (isNum(k) ? String(k) : '?')).join(', ')}`;
      if (over > 0) check += `; ${over} group${over === 1 ? ' keeps' : 's keep'} more than ${n}, which breaks the pattern`;
      else if (under > 0) check += `; a group keeping fewer than ${n} means some of its kept weights were already exactly zero`;
      else check += `, exactly ${n} in every group of ${m}`;
      out.push(`${check}.`);
      out.push(`In all, ${share(r.weightsRemaining)} of the weights remain.`);
      return out.join(' ');
    },
  },
  {
    id: 'iterative-oneshot',
    title: 'Why prune in several rounds?',
    prompt:
      'To reach a high sparsity such as 90%, you can prune once, or prune a little, fine-tune, and repeat over several rounds. ' +
      'Why does the second route usually end with higher accuracy?',
    choices: [
      'After each small cut the network retrains and adapts, so the next ranking is made on weights that already compensate, and no single step destroys too much at once.',
      'Iterative pruning ends with more weights left, because each round removes only a fraction.',
      'Each round removes a random subset, and averaging over rounds cancels out bad choices.',
      'Magnitude ranking is only valid up to 50% sparsity, so higher targets have to be split into steps of at most 50%.',
    ],
    answer: 0,
    explanation:
      'Cutting nine weights in ten at once removes many weights that only mattered together, ranked on a network that never had to work without them, and accuracy can collapse: per-layer magnitude pruning at 90% gave 50.90% here before fine-tuning. ' +
      'In rounds, each cut is smaller and is followed by training, so the survivors take over before the next ranking, which then reflects what the adapted network really uses. ' +
      'Both routes end at the same count: for a target s over n rounds, each round removes 1 − (1 − s)^(1/n) of the weights still left, about 34% per round for 92% over six rounds. ' +
      'Han et al. kept LeNet-300-100 accurate with 8% of its weights this way, and this project\'s six-round run reached 97.87% at 8% against 98.00% dense. ' +
      'The cost is extra training, so the method earns its keep at high sparsity, where one big cut does the most damage.',
    experiment: 'iterative-vs-oneshot',
    runLabel: 'Compare one-shot and iterative pruning',
    describe(result) {
      const r = obj(result);
      const perRound = isNum(r.target) && isNum(r.rounds) && r.rounds > 0 && r.target >= 0 && r.target < 1
        ? `, removing ${pct(1 - (1 - r.target) ** (1 / r.rounds), 1)} of the remaining weights each time,`
        : '';
      const rounds = isNum(r.rounds) ? `${count(r.rounds)} rounds` : 'several rounds';
      const out = [`Pruning to ${share(r.target)} sparsity in one step gave ${pct(r.oneShotAcc)} test accuracy; getting there in ${rounds}${perRound} gave ${pct(r.iterativeAcc)}.`];
      if (isNum(r.oneShotAcc) && isNum(r.iterativeAcc)) {
        const diff = r.iterativeAcc - r.oneShotAcc;
        if (diff > 0.002) {
          out.push(`Iterative pruning is ahead by ${points(r.iterativeAcc, r.oneShotAcc)} on your model.`);
        } else if (diff >= -0.002) {
          out.push(`The two are within ${points(r.iterativeAcc, r.oneShotAcc)} here: at this target one cut does little harm on your model, and the gap usually grows with sparsity.`);
        } else {
          out.push(`One-shot came out ahead by ${points(r.iterativeAcc, r.oneShotAcc)} on this run, which does not match the usual result; short fine-tuning between rounds may leave the network too little time to adapt, so try more steps or a higher target.`);
        }
      }
      return out.join(' ');
    },
  },
  {
    id: 'random-baseline',
    title: 'Why compare against random pruning?',
    prompt:
      'Pruning papers, and this playground, report random pruning next to their methods, although nobody would deploy it. What is the comparison for?',
    choices: [
      'It shows how much of a method\'s result comes from choosing which weights to remove, rather than merely from removing that many.',
      'Random pruning recovers best after fine-tuning, so it is the score to beat.',
      'It measures how much test accuracy varies between two runs of the same method.',
      'Random masks are the pattern GPUs accelerate, so they set the speed reference.',
    ],
    answer: 0,
    explanation:
      'A pruning score claims to find the weights a network can spare, and the way to test that claim is to remove the same number of weights, layer by layer, without using the score. ' +
      'If a method barely beats random, its ranking adds little and the network\'s spare capacity did the work. ' +
      'On this project\'s LeNet, one-shot random pruning fell to 64.56% at 50% while magnitude kept 97.50%, and at 90% random sat at chance (9.74%) against 50.90%. ' +
      'Fine-tuning narrows the gap (93.28% against 97.40% at 90% after one epoch), and what is left is the worth of a good choice. ' +
      'The lottery-ticket experiments use random masks and random re-initialisation as controls for the same reason.',
    experiment: 'random-baseline',
    runLabel: 'Prune randomly and by magnitude',
    describe(result) {
      const r = obj(result);
      const out = [`At ${share(r.sparsity)} sparsity, with no fine-tuning, magnitude pruning kept ${pct(r.magnitudeAcc)} test accuracy and random pruning ${pct(r.randomAcc)}, a gap of ${points(r.magnitudeAcc, r.randomAcc)}.`];
      if (!isNum(r.magnitudeAcc) || !isNum(r.randomAcc)) return out.join(' ');
      if (r.randomAcc >= r.magnitudeAcc) {
        out.push('Here random did as well as magnitude: at this sparsity your network has so much to spare that the choice hardly matters, so try a higher sparsity.');
      } else if (r.magnitudeAcc - r.randomAcc < 0.01) {
        out.push('The gap is small at this sparsity; it widens as more weights go.');
      } else if (r.randomAcc <= 0.12) {
        out.push('Random pruning is down at chance level (10% for ten digits), while the magnitude ranking kept the weights the network relies on.');
      } else {
        out.push('That gap is what choosing the small weights is worth on your model.');
      }
      return out.join(' ');
    },
  },
  {
    id: 'two-four-speed',
    title: 'Is a 2:4 model faster on any GPU?',
    prompt:
      'You prune a model to the 2:4 pattern, exactly 50% sparse. Will it run faster on any GPU, or in a web browser?',
    choices: [
      'Yes, always about 2× faster, because half the multiply-adds are gone on every chip.',
      'Only where something uses the pattern: sparse tensor cores (NVIDIA Ampere and later) or a kernel that stores the two kept values per group with their positions; stored as a dense matrix it runs like the dense model.',
      'No, never: the 2:4 pattern only saves memory and cannot change speed on any hardware.',
      'Yes, provided the weights are also quantised to 8 bits, which switches on the sparse path automatically.',
    ],
    answer: 1,
    explanation:
      'The 2:4 pattern is a promise about where the zeros are, and only code or hardware that relies on that promise can turn it into speed. ' +
      'NVIDIA\'s sparse tensor cores (Ampere and later) read a compressed matrix holding the two kept values of each group plus 2-bit positions and do half the multiply-adds, for up to roughly 2× on the matrix multiply; the rest of the network gains nothing. ' +
      'WebGPU gives web pages no access to those units, so in a browser a packed 2:4 kernel has to skip the zeros in ordinary shader code and pay for the position lookups. ' +
      'Stored as a plain dense matrix with zeros in it, a 2:4 model is exactly as much work as the dense one. ' +
      'So 2:4 is a format made for particular hardware, not a speed-up by itself.',
    experiment: 'forward-timing',
    runLabel: 'Time the 2:4 variants on this device',
    describe(result) {
      const v = variantsByName(result);
      const d = v.dense;
      const dense24 = v['2:4-dense'];
      const packed = v['2:4-packed'];
      if (!d) return listTimings(result, ['2:4-dense', '2:4-packed']);
      if (!dense24 && !packed) return `${deviceLabel(result)} the dense model took ${ms(d.ms)} per batch, but the 2:4 timings are missing, so there is nothing to compare.`;
      const parts = [`the dense model ${ms(d.ms)}`];
      if (dense24) parts.push(`the 2:4 model stored densely ${ms(dense24.ms)} (${relSpeed(d.ms, dense24.ms)})`);
      if (packed) parts.push(`the packed 2:4 kernel ${ms(packed.ms)} (${relSpeed(d.ms, packed.ms)})`);
      const out = [`${deviceLabel(result)}, one batch took: ${parts.join(', ')}.`];
      if (packed) {
        out.push(`The packed weights take ${bytes(packed.bytes)} against ${bytes(d.bytes)} dense, for ${count(packed.flops)} FLOPs per image against ${count(d.flops)}.`);
        const s = isNum(d.ms) && isNum(packed.ms) && packed.ms > 0 ? d.ms / packed.ms : NaN;
        if (isNum(s) && s >= 1.05) {
          out.push('On this device the packed kernel gained from skipping half the multiply-adds in ordinary shader code, without any sparse tensor cores.');
        } else if (isNum(s)) {
          out.push('On this device the packed kernel was not faster than dense: the position lookups cost about as much as the skipped multiply-adds, which is why 2:4 needs hardware built for it to pay off.');
        }
      } else {
        out.push('The packed 2:4 timing is missing on this device; stored densely, the 2:4 model does the same work as the dense one, so any gap between those two is timing noise.');
      }
      return out.join(' ');
    },
  },
  {
    id: 'mask-memory',
    title: 'Does zeroing weights save memory?',
    prompt:
      'After masking 80% of the weights to zero, how much memory do the weights take if they are still stored as ordinary dense float32 matrices?',
    choices: [
      'About 20% of the original, since the GPU compresses zeros away automatically.',
      'The same as before: a dense matrix spends 4 bytes on every entry, zero or not; only a sparse format or a smaller shape shrinks it.',
      'About half, because the runtime stores zeros as 16-bit floats instead of 32-bit ones.',
      'About 20%, once the model has been saved to a file and loaded back.',
    ],
    answer: 1,
    explanation:
      'A dense float32 matrix spends 4 bytes on each entry whatever its value, so LeNet\'s 266,200 weights take 1.06 MB masked or not, and all of them are read on every forward pass. ' +
      'A sparse format such as CSR stores only the nonzeros, each with its column index, plus one offset per row, so at 80% sparsity it needs roughly 40% of the dense bytes with 32-bit values and indices, not 20%. ' +
      'At 50% sparsity those indices use up the whole saving, one reason CSR pays off only when most weights are gone, while packed 2:4 needs only 2 bits of position per kept value. ' +
      'Removing neurons shrinks memory directly, because the matrices themselves become smaller. ' +
      'Note also that PyTorch\'s pruning utilities keep the original weights and the mask side by side until the pruning is made permanent, so memory briefly grows.',
    experiment: 'forward-timing',
    runLabel: 'Measure the weight bytes of each variant',
    describe(result) {
      const v = variantsByName(result);
      const d = v.dense;
      const names = [
        ['masked-80', '80%-masked'],
        ['csr-80', 'CSR at 80%'],
        ['2:4-packed', 'packed 2:4'],
        ['compacted', 'compacted structured'],
      ].filter(([n]) => v[n] && isNum(v[n].bytes));
      if (!d || !isNum(d.bytes)) {
        if (names.length === 0) return 'The experiment returned no weight sizes, so there is nothing to compare on this device.';
        return `Weight bytes measured: ${names.map(([n, label]) => `${label} ${bytes(v[n].bytes)}`).join(', ')}; the dense size is missing, so they cannot be compared with it.`;
      }
      if (names.length === 0) return `The dense weights take ${bytes(d.bytes)}; the other variants' sizes are missing on this device.`;
      const items = names.map(([n, label]) => `${label} ${bytes(v[n].bytes)} (${ratioPct(v[n].bytes, d.bytes)})`);
      const out = [`The dense weights take ${bytes(d.bytes)}; against that: ${items.join(', ')}.`];
      const mk = v['masked-80'];
      if (mk && isNum(mk.bytes)) {
        out.push(Math.abs(mk.bytes - d.bytes) <= 0.01 * d.bytes
          ? 'Masking alone saved nothing: the zeros are stored like any other value.'
          : 'The masked size reported here differs from the dense one, so this build stores masked weights in some compressed form rather than as plain dense matrices.');
      }
      const csr = v['csr-80'];
      if (csr && isNum(csr.bytes)) {
        out.push(csr.bytes > 0.21 * d.bytes
          ? `CSR keeps ${ratioPct(csr.bytes, d.bytes)} of the dense bytes rather than 20%, because every kept value carries an index.`
          : `CSR keeps ${ratioPct(csr.bytes, d.bytes)} of the dense bytes, so this build stores its indices very compactly.`);
      }
      return out.join(' ');
    },
  },
  // ---- Heads and blocks, demonstrated on the tiny ViT ----
  {
    id: 'heads-budget',
    title: 'How many attention heads can go?',
    prompt:
      'Michel et al. (2019) found that many attention heads of a trained transformer can be removed at test time with little loss, ' +
      'and glossaries often quote 30–40% of the heads as a rule of thumb. What decides how many heads your own model can lose before its accuracy drops by more than a point?',
    choices: [
      'Nothing: half the heads of every transformer are redundant, so 50% can always go.',
      'The model and the task: rank the heads by an importance score, remove them in steps and measure the accuracy after each; the share you can spare has to be measured, and a small model may have less to spare than a large one.',
      'No head can ever go: removing any head costs more than a point of accuracy.',
      'Only the number of blocks: heads within a block are interchangeable, so exactly one head per block can go.',
    ],
    answer: 1,
    explanation:
      'Heads differ: some carry much of what a block computes and others add little, which is what importance scores such as the gradient of a gate on each head\'s output (heads-taylor) try to tell apart. ' +
      'How many can go before accuracy suffers is an empirical property of a trained model, not a constant: the figures in the literature come from large language and translation models with many heads per layer. ' +
      'The tiny ViT here has 4 blocks of 4 heads, 16 in all, each 16 channels wide, so every head is a larger share of the model. ' +
      'The demonstration removes heads with heads-taylor in steps of an eighth of all heads, ranked across the whole model, with no fine-tuning, and stops at the first step that costs more than one point of test accuracy.',
    experiment: 'heads-budget',
    runLabel: 'Remove heads in eighths on your ViT',
    describe(result) {
      const r = obj(result);
      const steps = list(r.steps);
      if (!isNum(r.dense) || steps.length === 0) return 'The experiment returned no measurements, so there is nothing to report yet.';
      const within = steps.filter((x) => isNum(x.accuracy) && r.dense - x.accuracy <= 0.01);
      const past = steps.find((x) => isNum(x.accuracy) && r.dense - x.accuracy > 0.01);
      const total = steps[0].headsTotal;
      const out = [`Unpruned, your ViT scores ${pct(r.dense)} on the 10,000 test images.`];
      out.push(`With heads-taylor, one-shot: ${steps.map((x) => `without ${count(x.headsRemoved)} of ${count(x.headsTotal)} heads ${pct(x.accuracy)}`).join(', ')}.`);
      const best = within.at(-1);
      if (best) {
        const share = isNum(best.headsRemoved) && isNum(total) && total > 0 ? best.headsRemoved / total : NaN;
        out.push(`The most it lost while staying within one point was ${count(best.headsRemoved)} heads (${pct(share, 1)} of them)${past ? `; at ${count(past.headsRemoved)} heads it fell ${points(r.dense, past.accuracy)}` : ', and even the last step stayed within one point'}.`);
        if (isNum(share)) {
          out.push(share < 0.3
            ? 'That is below the 30–40% rule of thumb: on this small model, measured in eighths and without fine-tuning, fewer heads can go.'
            : share <= 0.4 ? 'That is within the 30–40% rule of thumb on this model.' : 'That is above the 30–40% rule of thumb on this model.');
        }
      } else if (past) {
        out.push(`Already the first step, ${count(past.headsRemoved)} heads, cost ${points(r.dense, past.accuracy)}, more than one point.`);
      }
      return out.join(' ');
    },
  },
  {
    id: 'layers-heal',
    title: 'What does healing give back after a block goes?',
    prompt:
      'Block Influence (ShortGPT) scores each transformer block by how little it turns the residual stream passing through it, and removes the lowest. ' +
      'Right after one block of the tiny ViT is removed, test accuracy falls. What does a short fine-tune of what is left (healing) do?',
    choices: [
      'Nothing: what a removed block computed cannot be recovered without putting it back.',
      'It puts the removed block back, with retrained weights.',
      'With the block still removed, the remaining blocks and the classifier adapt to its absence and win back part or most of the drop.',
      'It always leaves the model more accurate than it was before pruning.',
    ],
    answer: 2,
    explanation:
      'A removed block passes its input straight through, so every block after it, and the classifier, now see a residual stream they were not trained on. ' +
      'Healing is ordinary training with the block held off: the parts that remain shift to make up for it, as fine-tuning does after any pruning. ' +
      'Work on layer pruning of language models (Gromov et al. 2024, ShortGPT) reports that a little such training repairs much of the damage, and that after healing even simply dropping the deepest blocks is competitive with the scored choices. ' +
      'How much comes back depends on the model, the block and the training budget; the demonstration removes the block Block Influence picks on your ViT, measures, fine-tunes for the walk-through\'s number of steps and measures again.',
    experiment: 'layers-heal',
    runLabel: 'Remove a block and heal it',
    describe(result) {
      const r = obj(result);
      const which = Array.isArray(r.removedBlocks) && r.removedBlocks.length ? `block ${r.removedBlocks.join(', ')}` : 'a block';
      const of = isNum(r.blocks) ? ` of ${count(r.blocks)}` : '';
      const out = [`Block Influence removed ${which}${of}: test accuracy went from ${pct(r.dense)} to ${pct(r.accPruned)}, a drop of ${points(r.dense, r.accPruned)}.`];
      if (![r.dense, r.accPruned, r.accHealed].every(isNum)) return out.join(' ');
      const drop = r.dense - r.accPruned;
      const gain = r.accHealed - r.accPruned;
      const steps = isNum(r.steps) ? `${count(r.steps)} fine-tuning steps` : 'Fine-tuning';
      if (gain > 0 && drop > 0) {
        out.push(`${steps} with the block still removed brought it to ${pct(r.accHealed)}, ${gain >= drop ? 'more than the whole drop' : `${(100 * gain / drop).toFixed(1)}% of the drop`} won back.`);
      } else {
        out.push(`${steps} left it at ${pct(r.accHealed)}: no recovery on this run.`);
      }
      return out.join(' ');
    },
  },
  {
    id: 'heads-speed',
    title: 'Why is a masked head not faster?',
    prompt:
      'You remove half the attention heads of the tiny ViT. Kept as a mask (each removed head\'s output multiplied by 0), its forward pass takes about as long as before; ' +
      'compacted, with those heads deleted from the weight matrices, it runs faster. Why?',
    choices: [
      'A masked head still computes its queries, keys, values, attention and share of the output projection at full size before the zero throws the result away; compaction deletes its rows of qkv and columns of proj, so the matrices really are smaller.',
      'Multiplying by zero is slower than multiplying by other numbers.',
      'The compacted model uses a sparse kernel that skips the zeros.',
      'Compaction also stores the weights in 16-bit floats.',
    ],
    answer: 0,
    explanation:
      'A head mask changes what a head contributes, not what the kernels compute: the matrices keep their shapes and every multiply-add is still done. ' +
      'Compaction deletes a removed head\'s q, k and v rows of the qkv projection and its input columns of proj, and the attention of a deleted head is not computed at all, so the dense kernels simply have less to do, and the outputs stay the same. ' +
      'Heads are only part of the work: the patch embedding, the MLPs and the classifier are untouched, so half the heads gone saves well under half the time. ' +
      'The demonstration removes half the heads with heads-taylor and times both forms over the same test images on the CPU in WebAssembly.',
    experiment: 'heads-speed',
    runLabel: 'Time masked and compacted heads',
    describe(result) {
      const r = obj(result);
      const out = [`With ${count(r.headsRemoved)} of ${count(r.headsTotal)} heads removed, the masked ViT has ${count(r.paramsMasked)} parameters and ${count(r.flopsMasked)} forward FLOPs per image; compacted (${typeof r.shapeCompacted === 'string' ? r.shapeCompacted : 'smaller'}), ${count(r.paramsCompacted)} and ${count(r.flopsCompacted)}.`];
      if (isNum(r.msMasked) && isNum(r.msCompacted) && r.msCompacted > 0) {
        const s = r.msMasked / r.msCompacted;
        out.push(`Over ${count(r.batch)} test images (median of ${count(r.reps)}), the masked model took ${ms(r.msMasked)} and the compacted one ${ms(r.msCompacted)}, ${s >= 1.05 ? `${s.toFixed(2)}× faster` : 'no faster on this run (timing noise on a busy machine can hide the gap)'}.`);
      }
      if (isNum(r.maxAbsDiff)) out.push(`Their outputs differ by at most ${tiny(r.maxAbsDiff)}.`);
      return out.join(' ');
    },
  },
];
