// The example host page's only script: lists what its PrunePlay frames report. A real glossary
// would use these events to, say, quote the accuracy a frame measured in its own text.

const list = document.getElementById('events');

window.addEventListener('message', (event) => {
  const m = event.data;
  // Frames are sandboxed, so their origin is "null": tell them apart by their window instead.
  const frame = Array.from(document.querySelectorAll('iframe')).findIndex((f) => f.contentWindow === event.source);
  if (frame < 0 || m?.source !== 'pruneplay') return;
  const item = document.createElement('li');
  const detail = { ...m };
  delete detail.source;
  item.textContent = `frame ${frame + 1}: ${JSON.stringify(detail)}`;
  item.dataset.event = m.event;
  item.dataset.frame = String(frame + 1);
  list.append(item);
});
