// The embedded browser (seed 002 "Embedded Browser"): tabs, each a sandboxed frame showing a page
// through /proxy/{id}/…, with an address bar, back/forward/reload and the seed's shortcuts
// (Ctrl+T/W/Tab, Alt+arrows, Ctrl+L, Ctrl+R, middle-click closes a tab). Frames have an opaque
// origin, so the page cannot read where they are: the proxy runtime inside each frame reports it.
import { proxyUrlOf, resolveAddress } from './address.js';

const body = document.body;
const config = {
  mode: body.dataset.mode,
  proxy: body.dataset.proxy,
  origin: body.dataset.origin,
  home: body.dataset.home,
};
const SANDBOX =
  'allow-scripts allow-forms allow-popups allow-modals allow-downloads allow-pointer-lock allow-presentation';

const tabList = document.getElementById('tabs');
const frames = document.getElementById('frames');
const address = document.getElementById('address');
const status = document.getElementById('status');
const back = document.getElementById('back');
const forward = document.getElementById('forward');

/** @type {{ id: number, frame: HTMLIFrameElement, button: HTMLElement, label: HTMLElement, entries: string[], index: number, pending: 'push' | 'replace', title: string }[]} */
const tabs = [];
let active = null;
let nextId = 1;

function showStatus(text) {
  status.textContent = text ?? '';
  status.hidden = !text;
}

function refreshControls() {
  const tab = active;
  back.disabled = !tab || tab.index <= 0;
  forward.disabled = !tab || tab.index >= tab.entries.length - 1;
  if (tab && document.activeElement !== address) address.value = tab.entries[tab.index] ?? '';
  document.title = tab?.title ? `${tab.title} – Portal` : 'Portal browser';
}

/** Shows `target` in `tab`'s frame without adding to the page's own session history. */
function load(tab, target) {
  const path = proxyUrlOf(target, config);
  if (!path) {
    showStatus(`This connection only reaches ${config.origin}`);
    return false;
  }
  showStatus('');
  // The frame's next report (after redirects) replaces this entry rather than adding one.
  tab.pending = 'replace';
  if (tab.frame.contentWindow && tab.frame.getAttribute('src'))
    tab.frame.contentWindow.location.replace(path);
  else tab.frame.src = path;
  return true;
}

function navigate(tab, target) {
  if (!load(tab, target)) return;
  tab.entries.splice(tab.index + 1, Infinity, target);
  tab.index = tab.entries.length - 1;
  refreshControls();
}

function move(tab, delta) {
  const index = tab.index + delta;
  if (index < 0 || index >= tab.entries.length) return;
  tab.index = index;
  load(tab, tab.entries[index]);
  refreshControls();
}

function select(tab) {
  active = tab;
  for (const t of tabs) {
    const on = t === tab;
    t.frame.hidden = !on;
    t.button.setAttribute('aria-selected', String(on));
    t.button.classList.toggle('active', on);
  }
  refreshControls();
}

function openTab(target = config.home) {
  const id = nextId++;
  const frame = document.createElement('iframe');
  frame.setAttribute('sandbox', SANDBOX);
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.title = 'Page';
  frames.append(frame);
  const button = document.createElement('div');
  button.className = 'tab';
  button.setAttribute('role', 'tab');
  const label = document.createElement('span');
  label.className = 'label';
  label.textContent = 'New tab';
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'close';
  close.textContent = '×';
  close.title = 'Close tab (Ctrl+W)';
  button.append(label, close);
  tabList.append(button);
  const tab = { id, frame, button, label, entries: [], index: -1, pending: 'push', title: '' };
  tabs.push(tab);
  button.addEventListener('click', () => select(tab));
  button.addEventListener('auxclick', (e) => {
    if (e.button === 1) closeTab(tab);
  });
  close.addEventListener('click', (e) => {
    e.stopPropagation();
    closeTab(tab);
  });
  select(tab);
  navigate(tab, target);
  return tab;
}

function closeTab(tab) {
  const i = tabs.indexOf(tab);
  if (i < 0) return;
  tabs.splice(i, 1);
  tab.frame.remove();
  tab.button.remove();
  if (tabs.length === 0) openTab();
  else if (active === tab) select(tabs[Math.min(i, tabs.length - 1)]);
}

function cycle(step) {
  if (!active || tabs.length < 2) return;
  const i = tabs.indexOf(active);
  select(tabs[(i + step + tabs.length) % tabs.length]);
}

/** Where the frame says it is now: a link it followed, a redirect, or an app route. */
function onFrameLocation(tab, url, title) {
  if (typeof title === 'string') {
    tab.title = title;
    tab.label.textContent = title || url || 'Page';
  }
  if (typeof url === 'string' && url !== tab.entries[tab.index]) {
    if (tab.pending === 'replace' || tab.index < 0) tab.entries[Math.max(tab.index, 0)] = url;
    else {
      tab.entries.splice(tab.index + 1, Infinity, url);
      tab.index = tab.entries.length - 1;
    }
  }
  tab.pending = 'push';
  if (tab === active) refreshControls();
}

function shortcut({ key, ctrl, alt, shift }) {
  if (ctrl && key === 't') openTab();
  else if (ctrl && key === 'w') closeTab(active);
  else if (ctrl && key === 'Tab') cycle(shift ? -1 : 1);
  else if (ctrl && key === 'l') {
    address.focus();
    address.select();
  } else if ((ctrl && key === 'r') || key === 'F5') reload();
  else if (alt && key === 'ArrowLeft') move(active, -1);
  else if (alt && key === 'ArrowRight') move(active, 1);
  else return false;
  return true;
}

function reload() {
  if (active && active.index >= 0) load(active, active.entries[active.index]);
}

window.addEventListener('message', (event) => {
  const tab = tabs.find((t) => t.frame.contentWindow === event.source);
  const data = event.data;
  if (!tab || !data || data.portalProxy !== 1) return;
  if (data.type === 'location') onFrameLocation(tab, data.url, data.title);
  else if (data.type === 'key') shortcut(data);
});

document.addEventListener('keydown', (e) => {
  const handled = shortcut({ key: e.key, ctrl: e.ctrlKey || e.metaKey, alt: e.altKey, shift: e.shiftKey });
  if (handled) e.preventDefault();
});

document.getElementById('nav').addEventListener('submit', (e) => {
  e.preventDefault();
  const current = active?.entries[active.index] ?? config.home;
  const target = resolveAddress(address.value, { mode: config.mode, current });
  if (!target) return;
  navigate(active, target);
  address.blur();
});
back.addEventListener('click', () => move(active, -1));
forward.addEventListener('click', () => move(active, 1));
document.getElementById('reload').addEventListener('click', reload);
document.getElementById('new-tab').addEventListener('click', () => openTab());
document.getElementById('clear-cookies').addEventListener('click', async () => {
  const res = await fetch(`/api/connections/${encodeURIComponent(body.dataset.connection)}/cookies`, {
    method: 'DELETE',
  });
  showStatus(res.ok ? 'Cookies of this connection cleared' : 'Could not clear the cookies');
});

openTab();
