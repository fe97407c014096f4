// A minimal IIIF Authorization Flow 2.0 client (https://iiif.io/api/auth/2.0/#workflow-from-the-browser-client-perspective),
// written for the security suite. State goes to window.state for the test to read.
'use strict';

const state = (window.state = { log: [] });
function log(message) {
  state.log.push(message);
  document.getElementById('log').textContent += message + '\n';
}
const pick = (map) => (map && (map.en || map.none || Object.values(map)[0] || [''])[0]) || '';

/** GET the probe service, with the access token if there is one. Resolves to the probe result. */
async function probe(probeId, token) {
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  const r = await fetch(probeId, { headers });
  const body = await r.json();
  log('probe ' + (token ? 'with' : 'without') + ' token: HTTP ' + r.status + ', status ' + body.status);
  return body;
}

/**
 * Opens the token service in a hidden iframe and waits for its message. `origin` is what the
 * client claims (default: the truth). Resolves to the message, or { timeout: true }.
 */
function requestToken(tokenServiceId, origin, timeoutMs) {
  return new Promise((resolve) => {
    const messageId = 'm' + Math.random().toString(36).slice(2);
    const frame = document.createElement('iframe');
    frame.hidden = true;
    const serviceOrigin = new URL(tokenServiceId).origin;
    const done = (value) => {
      window.removeEventListener('message', listener);
      clearTimeout(timer);
      frame.remove();
      resolve(value);
    };
    const listener = (event) => {
      if (event.origin !== serviceOrigin || !event.data || event.data.messageId !== messageId) return;
      done(event.data);
    };
    window.addEventListener('message', listener);
    const timer = setTimeout(() => done({ timeout: true }), timeoutMs || 5000);
    frame.src = tokenServiceId + '?messageId=' + encodeURIComponent(messageId) + '&origin=' + encodeURIComponent(origin || window.location.origin);
    document.body.appendChild(frame);
  });
}

function waitClosed(win) {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (win.closed) {
        clearInterval(t);
        resolve();
      }
    }, 100);
  });
}

async function main() {
  const info = new URLSearchParams(window.location.search).get('info');
  if (!info) return log('no ?info=');
  // The info.json, with the archive's cookie if the browser has one for it.
  let r = await fetch(info, { credentials: 'include' });
  state.infoStatus = r.status;
  let doc = await r.json();
  log('info.json: HTTP ' + r.status);
  const probeService = (doc.service || []).find((s) => s.type === 'AuthProbeService2');
  if (!probeService) return log('no probe service');
  state.probeId = probeService.id;
  const access = probeService.service.find((s) => s.type === 'AuthAccessService2' && s.profile === 'active');
  const tokenService = access.service.find((s) => s.type === 'AuthAccessTokenService2');
  const logout = access.service.find((s) => s.type === 'AuthLogoutService2');
  state.tokenServiceId = tokenService.id;
  state.logoutId = logout && logout.id;

  let result = await probe(probeService.id, null);
  state.firstProbe = result.status;
  if (result.status !== 200) {
    // Active pattern: show heading and note, then open the access service on the user's click.
    document.getElementById('heading').textContent = pick(access.heading);
    document.getElementById('note').textContent = pick(access.note);
    const button = document.getElementById('login');
    button.textContent = pick(access.confirmLabel) || pick(access.label);
    document.getElementById('prompt').hidden = false;
    await new Promise((resolve) => button.addEventListener('click', resolve, { once: true }));
    const win = window.open(access.id + '?origin=' + encodeURIComponent(window.location.origin), 'iiif-access');
    await waitClosed(win);
    log('access service tab closed');
    const message = await requestToken(tokenService.id);
    state.tokenMessage = message;
    if (!message.accessToken) return log('token service: ' + (message.profile || 'timeout'));
    state.token = message.accessToken;
    log('token received, expires in ' + message.expiresIn + ' s');
    result = await probe(probeService.id, message.accessToken);
  }
  state.probe = result.status;
  if (result.status !== 200) return log('no access: ' + pick(result.heading));
  r = await fetch(info, { credentials: 'include' });
  state.infoAfter = r.status;
  doc = await r.json();
  const img = document.getElementById('image');
  img.addEventListener('load', () => {
    state.imageWidth = img.naturalWidth;
    state.done = true;
    log('image shown');
  });
  img.addEventListener('error', () => {
    state.imageError = true;
    state.done = true;
  });
  img.src = doc.id + '/full/!200,200/0/default.jpg';
}

window.iiifAuth = { probe, requestToken };
main().catch((e) => {
  state.error = String(e);
  log('error: ' + e);
});
