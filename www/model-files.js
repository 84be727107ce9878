// Models in and results out on the prune card: "Open a model" (a file input, or a file dropped
// on the card) hands a safetensors file's bytes to the worker, where the CLI's loader reads them;
// the downloads save the walk-through's model and its masks, with the Python that loads the
// model back into PyTorch. Reading, checking and writing the files is the crate's work; this
// module only moves bytes and words.

import { saveFile } from './downloads.js';
import { pct } from './views.js';

const $ = (id) => document.getElementById(id);
const SAFETENSORS = 'application/octet-stream';

/** A file name's stem: "my-model.safetensors" → "my-model". */
const stem = (name) => name.replace(/\.safetensors$/i, '') || 'model';

export function createModelFiles(client, { card }) {
  const ui = {
    input: $('open-model'),
    status: $('open-status'),
    downloads: $('downloads'),
    form: $('download-form'),
    model: $('download-model'),
    masks: $('download-masks'),
    python: $('model-python').querySelector('code'),
    select: $('prune-model'),
    opened: $('prune-model').querySelector('option[value="opened"]'),
  };
  // What the downloads are named after: the opened file, or the shipped or trained model.
  let baseName = 'lenet-300-100';
  let opening = false;

  function say(text, { error = false } = {}) {
    ui.status.textContent = text;
    ui.status.classList.toggle('error-text', error);
    if (error) ui.status.dataset.error = 'true';
    else delete ui.status.dataset.error;
  }

  const modelFileName = () => `${baseName}-${ui.form.value === 'compacted' ? 'compacted' : 'pruneplay'}.safetensors`;

  /** The Python lines for the model as it now stands, under the name it would download as. */
  function refresh() {
    if (ui.downloads.hidden) return;
    client.request('model-python', { form: ui.form.value, fileName: modelFileName() }, {
      result(text) {
        ui.python.textContent = text;
      },
      error(message) {
        ui.python.textContent = `# ${message}`;
      },
    });
  }

  /** Sends a file's bytes to the worker; the new model reaches every card as its 'model' notice. */
  async function open(file) {
    if (!file || opening) return;
    opening = true;
    say(`Opening ${file.name}…`);
    let bytes;
    try {
      bytes = new Uint8Array(await file.arrayBuffer());
    } catch (e) {
      opening = false;
      say(`Could not read ${file.name}: ${e.message ?? e}. The model above is unchanged.`, { error: true });
      return;
    }
    client.request('open-model', { name: file.name, bytes }, {
      result(opened) {
        opening = false;
        const m = opened.model;
        if (opened.what === 'masks') {
          say(`Applied the masks in ${opened.name} to the model above: ${pct(m.weightsRemaining)} of its weights remain, `
            + `${m.testAcc == null ? 'test accuracy not measured' : `${pct(m.testAcc)} test accuracy`}.`);
        } else {
          say(`Opened ${opened.name}: ${m.layout}.`);
        }
      },
      error(message) {
        opening = false;
        say(`Could not open ${file.name}: ${message}. The model above is unchanged.`, { error: true });
      },
    });
  }

  ui.input.addEventListener('change', () => {
    const [file] = ui.input.files;
    // Cleared, so that picking the same file again (after changing it on disk) opens it again.
    ui.input.value = '';
    open(file);
  });

  // Dropping a file anywhere on the prune card opens it too.
  const carriesFiles = (event) => Array.from(event.dataTransfer?.types ?? []).includes('Files');
  card.addEventListener('dragover', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    card.classList.add('dropping');
  });
  card.addEventListener('dragleave', (event) => {
    if (!card.contains(event.relatedTarget)) card.classList.remove('dropping');
  });
  card.addEventListener('drop', (event) => {
    card.classList.remove('dropping');
    if (!carriesFiles(event)) return;
    event.preventDefault();
    open(event.dataTransfer.files[0]);
  });

  ui.model.addEventListener('click', () => {
    const name = modelFileName();
    client.request('model-file', { form: ui.form.value }, {
      result: (bytes) => saveFile(name, SAFETENSORS, bytes),
      error: (message) => say(`Could not write the model: ${message}`, { error: true }),
    });
  });
  ui.masks.addEventListener('click', () => {
    client.request('masks-file', {}, {
      result: (bytes) => saveFile(`${baseName}-masks.safetensors`, SAFETENSORS, bytes),
      error: (message) => say(`Could not write the masks: ${message}`, { error: true }),
    });
  });
  ui.form.addEventListener('change', refresh);

  return {
    refresh,
    /** The model to prune changed (the worker's 'model' notice). */
    setModel(m) {
      if (m.source === 'opened') {
        baseName = stem(m.name);
        ui.opened.disabled = false;
        ui.opened.textContent = `${m.name}, opened from your disk`;
        ui.select.value = 'opened';
      } else if (m.source === 'shipped') {
        baseName = m.which === 'vit' ? 'vit-mnist' : 'lenet-300-100';
      } else if (m.source === 'trained') {
        baseName = 'trained';
      }
      // A masks file keeps the name of the model it went on.
      ui.downloads.hidden = false;
      refresh();
    },
  };
}
