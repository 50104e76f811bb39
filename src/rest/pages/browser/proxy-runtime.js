// The first script of every page shown through Portal's web proxy (seed 002: "intercepts
// navigation (forms, fetch, XHR, WebSocket, Location.assign/replace, history API) to keep all
// traffic within Portal's proxy layer"). The server already rewrote the HTML and CSS; this catches
// the URLs scripts build at run time, gives the page the storage its opaque origin lacks (in
// memory, for the page's lifetime), and tells the browser page where the frame is now.
// Location.assign/replace and `location.href = …` cannot be patched (the Location object is
// unforgeable): absolute targets still work because the server rewrote the links that lead there.
(() => {
  const script = document.currentScript;
  let config;
  try {
    config = JSON.parse(script?.dataset.portalProxy ?? '');
  } catch {
    return;
  }
  const { prefix, mode, origin } = config;
  if (!prefix) return;
  const here = location.origin;
  const UNTOUCHED = /^(#|javascript:|data:|blob:|about:|mailto:|tel:)/i;

  /** The real URL a /proxy/ URL stands for, or null for any other URL. */
  function targetOf(href) {
    let url;
    try {
      url = new URL(href, location.href);
    } catch {
      return null;
    }
    if (url.origin !== here || !url.pathname.startsWith(`${prefix}/`)) return null;
    const rest = url.pathname.slice(prefix.length);
    try {
      if (mode === 'browser') {
        return new URL(rest.slice(1).replace(/^(https?|wss?):\/+/i, '$1://') + url.search + url.hash);
      }
      return new URL(rest + url.search + url.hash, origin);
    } catch {
      return null;
    }
  }

  const pageTarget = () => targetOf(document.baseURI) ?? targetOf(location.href);

  /** Where a URL the page uses is reached through the proxy (`ws` for WebSocket URLs). */
  function toProxy(input, ws) {
    if (input === null || input === undefined) return input;
    const text = String(input);
    if (UNTOUCHED.test(text.trim())) return text;
    let url;
    try {
      url = new URL(text, pageTarget() ?? location.href);
    } catch {
      return text;
    }
    if (url.origin === here && url.pathname.startsWith('/proxy/')) return url.href;
    if (!/^(https?|wss?):$/.test(url.protocol)) return text;
    let path;
    if (mode === 'browser') {
      path = `${prefix}/${url.href}`;
    } else {
      const backend = new URL(origin);
      const protocol = url.protocol.replace(/^ws/, 'http');
      if (protocol !== backend.protocol || url.host !== backend.host) return text;
      path = `${prefix}${url.pathname}${url.search}${url.hash}`;
    }
    return ws ? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}` : path;
  }

  // Network APIs.
  const nativeFetch = window.fetch;
  window.fetch = function fetch(input, init) {
    const request = input instanceof Request ? new Request(toProxy(input.url), input) : toProxy(input);
    return nativeFetch.call(this, request, init);
  };
  const nativeOpen = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function open(method, url, ...rest) {
    return nativeOpen.call(this, method, toProxy(url), ...rest);
  };
  const wrapConstructor = (name, ws) => {
    const Native = window[name];
    if (!Native) return;
    window[name] = new Proxy(Native, {
      construct(target, args, newTarget) {
        if (args.length > 0) args[0] = toProxy(args[0], ws);
        return Reflect.construct(target, args, newTarget);
      },
    });
  };
  wrapConstructor('WebSocket', true);
  wrapConstructor('EventSource', false);
  wrapConstructor('Worker', false);
  wrapConstructor('SharedWorker', false);
  if (navigator.sendBeacon) {
    const nativeBeacon = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = (url, data) => nativeBeacon(toProxy(url), data);
  }
  const nativeWindowOpen = window.open;
  window.open = function open(url, ...rest) {
    return nativeWindowOpen.call(this, url === undefined ? url : toProxy(url), ...rest);
  };

  // Properties and attributes that load or navigate.
  const URL_PROPERTIES = [
    ['HTMLAnchorElement', 'href'],
    ['HTMLAreaElement', 'href'],
    ['HTMLLinkElement', 'href'],
    ['HTMLBaseElement', 'href'],
    ['HTMLImageElement', 'src'],
    ['HTMLScriptElement', 'src'],
    ['HTMLIFrameElement', 'src'],
    ['HTMLEmbedElement', 'src'],
    ['HTMLSourceElement', 'src'],
    ['HTMLTrackElement', 'src'],
    ['HTMLMediaElement', 'src'],
    ['HTMLVideoElement', 'poster'],
    ['HTMLInputElement', 'src'],
    ['HTMLFormElement', 'action'],
    ['HTMLObjectElement', 'data'],
  ];
  for (const [type, property] of URL_PROPERTIES) {
    const proto = window[type]?.prototype;
    const descriptor = proto && Object.getOwnPropertyDescriptor(proto, property);
    if (!descriptor?.set) continue;
    Object.defineProperty(proto, property, {
      ...descriptor,
      set(value) {
        descriptor.set.call(this, toProxy(value));
      },
    });
  }
  const URL_ATTRIBUTES = new Set(['src', 'href', 'action', 'formaction', 'poster', 'data', 'background']);
  const rewriteSrcset = (value) =>
    String(value)
      .split(/,(?=\s|$)/)
      .map((c) => c.replace(/^(\s*)(\S+)/, (_m, space, url) => space + toProxy(url)))
      .join(',');
  const nativeSetAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function setAttribute(name, value) {
    const lower = String(name).toLowerCase();
    let next = value;
    if (
      URL_ATTRIBUTES.has(lower) &&
      !(this instanceof SVGElement && lower === 'href' && String(value).startsWith('#'))
    )
      next = toProxy(value);
    else if (lower === 'srcset') next = rewriteSrcset(value);
    return nativeSetAttribute.call(this, name, next);
  };
  // Markup inserted as text (innerHTML, insertAdjacentHTML) is fixed up once it is in the page.
  const fixElement = (el) => {
    for (const name of URL_ATTRIBUTES) {
      const value = el.getAttribute?.(name);
      if (value && !value.startsWith(prefix) && !value.startsWith('#')) {
        const next = toProxy(value);
        if (next !== value) nativeSetAttribute.call(el, name, next);
      }
    }
    const target = el.getAttribute?.('target');
    if (target && /^_(top|parent)$/i.test(target)) nativeSetAttribute.call(el, 'target', '_self');
  };
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== 1) continue;
        fixElement(node);
        for (const child of node.querySelectorAll(
          '[src],[href],[action],[formaction],[poster],[data],[target]',
        ))
          fixElement(child);
      }
    }
  }).observe(document, { childList: true, subtree: true });

  // History: SPA routes stay under the proxy, and the browser page hears about them.
  for (const method of ['pushState', 'replaceState']) {
    const native = history[method];
    history[method] = function (state, title, url) {
      const result = native.call(this, state, title, url === undefined || url === null ? url : toProxy(url));
      report();
      return result;
    };
  }

  // Storage: an opaque origin has none, and many pages fail without it.
  const memoryStorage = () => {
    const items = new Map();
    return {
      get length() {
        return items.size;
      },
      key: (i) => [...items.keys()][i] ?? null,
      getItem: (k) => (items.has(String(k)) ? items.get(String(k)) : null),
      setItem: (k, v) => void items.set(String(k), String(v)),
      removeItem: (k) => void items.delete(String(k)),
      clear: () => items.clear(),
    };
  };
  for (const name of ['localStorage', 'sessionStorage']) {
    try {
      void window[name];
    } catch {
      Object.defineProperty(window, name, { configurable: true, value: memoryStorage() });
    }
  }
  try {
    void document.cookie;
  } catch {
    // The site's real cookies are kept by Portal; scripts get a cookie string of their own.
    const jar = new Map();
    Object.defineProperty(document, 'cookie', {
      configurable: true,
      get: () => [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
      set: (text) => {
        const [pair] = String(text).split(';');
        const eq = pair.indexOf('=');
        if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
      },
    });
  }

  // The browser page (our parent) shows the address and title, and handles its shortcuts.
  const toParent = (message) => {
    if (window.parent !== window) window.parent.postMessage({ portalProxy: 1, ...message }, '*');
  };
  function report() {
    toParent({ type: 'location', url: targetOf(location.href)?.href ?? null, title: document.title });
  }
  addEventListener('DOMContentLoaded', report);
  addEventListener('load', report);
  addEventListener('popstate', report);
  addEventListener('hashchange', report);
  const SHORTCUTS = new Set(['t', 'w', 'l', 'r', 'Tab']);
  addEventListener(
    'keydown',
    (e) => {
      const shortcut =
        e.key === 'F5' ||
        ((e.ctrlKey || e.metaKey) && SHORTCUTS.has(e.key)) ||
        (e.altKey && (e.key === 'ArrowLeft' || e.key === 'ArrowRight'));
      if (!shortcut) return;
      e.preventDefault();
      toParent({ type: 'key', key: e.key, ctrl: e.ctrlKey || e.metaKey, alt: e.altKey, shift: e.shiftKey });
    },
    true,
  );
})();
