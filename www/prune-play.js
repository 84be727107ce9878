// <prune-play>: one view of PrunePlay in another site's page, from one module script:
//
//   <script type="module" src="https://YOUR-HOST/www/prune-play.js"></script>
//   <prune-play view="masks" method="wanda" sparsity="0.5" hide="controls"></prune-play>
//
// The element is a thin wrapper over the iframe embed (embed.html in a sandboxed frame), so it
// inherits everything the embed promises: no same-origin access, no storage, its own strict CSP.
// The attributes are the embed's URL settings; changing one re-renders the view through the
// documented host command instead of reloading the frame. What the frame reports comes back as
// DOM events on the element: `pruneplay-ready`, `pruneplay-pruned`, `pruneplay-answered`,
// `pruneplay-error`, each with the message as `event.detail`.
//
// Nothing here touches the host page's styles or globals beyond defining the element. Its own
// styles are a constructed stylesheet and CSSOM properties, which a host's `style-src` policy
// allows (an inline <style> would not be); a host's CSS for `prune-play` still wins over them.

import { HOST_KEYS } from './host.js';

// The settings the frame accepts from its host after it has started (HOST_KEYS) change live;
// `hide` changes which parts the frame lays out, so a change reloads it.
const ATTRIBUTES = [...HOST_KEYS, 'hide'];
const EMBED = new URL('embed.html', import.meta.url);
const SHEET = new CSSStyleSheet();
SHEET.replaceSync(':host { display: block; max-width: 100%; } iframe { display: block; border: 0; max-width: 100%; }');

class PrunePlay extends HTMLElement {
  static observedAttributes = [...ATTRIBUTES, 'width', 'height', 'label'];

  #frame = null;
  // Until the frame says `ready` it has no message listener yet: changes reload it instead.
  #ready = false;
  #onMessage = (event) => this.#relay(event);

  connectedCallback() {
    if (!this.#frame) {
      const root = this.attachShadow({ mode: 'open' });
      root.adoptedStyleSheets = [SHEET];
      this.#frame = document.createElement('iframe');
      this.#frame.setAttribute('sandbox', 'allow-scripts');
      root.append(this.#frame);
    }
    this.#size();
    this.#load();
    window.addEventListener('message', this.#onMessage);
  }

  disconnectedCallback() {
    window.removeEventListener('message', this.#onMessage);
  }

  attributeChangedCallback(name, old, value) {
    if (!this.#frame || !this.isConnected || old === value) return;
    if (name === 'width' || name === 'height' || name === 'label') {
      this.#size();
    } else if (this.#ready && HOST_KEYS.includes(name) && value !== null) {
      this.#frame.contentWindow?.postMessage({ source: 'pruneplay-host', command: 'set', settings: { [name]: value } }, '*');
    } else {
      // `hide`, a setting removed, or a frame still starting: load it again from the attributes.
      this.#load();
    }
  }

  /** The inner <iframe>, for hosts that want to post the documented commands themselves. */
  get frame() {
    return this.#frame;
  }

  #load() {
    this.#ready = false;
    this.#frame.src = this.#url();
  }

  #url() {
    const params = new URLSearchParams();
    for (const key of ATTRIBUTES) {
      const value = this.getAttribute(key);
      if (value !== null) params.set(key, value);
    }
    const url = new URL(EMBED);
    url.hash = params.toString();
    return url.href;
  }

  #size() {
    // Pixels as numbers, like an <iframe>'s own width and height attributes.
    const px = (name, fallback) => {
      const n = Number.parseInt(this.getAttribute(name) ?? '', 10);
      return `${Number.isFinite(n) && n > 0 ? n : fallback}px`;
    };
    this.#frame.style.width = px('width', 720);
    this.#frame.style.height = px('height', 520);
    this.#frame.title = this.getAttribute('label') ?? `PrunePlay: ${this.getAttribute('view') ?? 'masks'} view`;
  }

  #relay(event) {
    // Only this element's own frame, and only the embed's message shape.
    if (!this.#frame || event.source !== this.#frame.contentWindow) return;
    const m = event.data;
    if (!m || typeof m !== 'object' || m.source !== 'pruneplay' || typeof m.event !== 'string') return;
    if (m.event === 'ready') this.#ready = true;
    this.dispatchEvent(new CustomEvent(`pruneplay-${m.event}`, { detail: m, bubbles: true, composed: true }));
  }
}

if (!customElements.get('prune-play')) customElements.define('prune-play', PrunePlay);
