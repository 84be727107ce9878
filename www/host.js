// Messages to the page that embeds this one, if any (see README, "Embedding"): every message is
// {source: 'pruneplay', event, ...detail}. The data is not private, so any host may read it.

/**
 * Settings (URL keys) a host may change with {command: 'set'} once the frame has started: the
 * embed accepts only these, and <prune-play> forwards changes of these attributes that way.
 */
export const HOST_KEYS = Object.freeze(['method', 'sparsity', 'pattern', 'orate', 'calib', 'scope', 'hrounds', 'remove', 'digit', 'view', 'compare', 'levels', 'question']);

export function tell(event, detail = {}) {
  if (window.parent !== window) window.parent.postMessage({ source: 'pruneplay', event, ...detail }, '*');
}
