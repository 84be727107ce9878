// Messages to the page that embeds this one, if any (see README, "Embedding"): every message is
// {source: 'pruneplay', event, ...detail}. The data is not private, so any host may read it.

export function tell(event, detail = {}) {
  if (window.parent !== window) window.parent.postMessage({ source: 'pruneplay', event, ...detail }, '*');
}
