// The tutorial's only script: its slider drives the <prune-play> element's `sparsity` attribute,
// and the element's `pruneplay-pruned` events put the measured accuracy into the text.

const demo = document.getElementById('demo');
const amount = document.getElementById('amount');
const said = document.getElementById('said');

amount.addEventListener('input', () => {
  document.getElementById('amount-value').textContent = `${Math.round(100 * Number(amount.value))}%`;
  demo.setAttribute('sparsity', amount.value);
});

demo.addEventListener('pruneplay-ready', (event) => {
  said.dataset.ready = String(Number(said.dataset.ready ?? 0) + 1);
  said.dataset.bytes = String(event.detail.bytes);
});

demo.addEventListener('pruneplay-pruned', ({ detail }) => {
  const pct = (x) => `${(100 * x).toFixed(2)}%`;
  said.textContent = `With ${pct(detail.weightsRemaining)} of the weights left, the network reads `
    + `${pct(detail.accuracyAfter)} of the test digits right (${pct(detail.accuracyBefore)} before pruning).`;
  said.dataset.sparsity = String(detail.sparsity);
  said.dataset.accuracy = String(detail.accuracyAfter);
});

demo.addEventListener('pruneplay-error', ({ detail }) => {
  said.textContent = `The view reported a problem: ${detail.message}`;
});
