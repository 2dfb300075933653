// The catface page: plain ES module, no build step. Talks to the service's /v1 API on the same origin.
const $ = (id) => document.getElementById(id);
const photos = { a: null, b: null, search: null };

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok)
    throw new Error(body.error ? `${body.error.message} (${response.status} ${body.error.code})` : `HTTP ${response.status}`);
  return body;
}

async function checkHealth() {
  try {
    const health = await api('/v1/health');
    const t = health.model.threshold;
    $('status').textContent = `Ready · threshold ${t === null ? 'none' : t.toFixed(4)} · gallery ${health.gallery.identities} identities`;
  } catch {
    $('status').textContent = 'The model is loading…';
    setTimeout(checkHealth, 2000);
  }
}

// Tabs (WAI-ARIA tabs pattern: click or arrow keys).
const tabs = [$('tab-verify'), $('tab-gallery')];
function select(tab) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
  tab.focus();
  if (tab.id === 'tab-gallery') listIdentities();
}
for (const t of tabs) {
  t.addEventListener('click', () => select(t));
  t.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') select(tabs[(tabs.indexOf(t) + 1) % tabs.length]);
  });
}

async function draw(canvas, file, faces = []) {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  const scale = Math.min(1, 480 / bitmap.width);
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  ctx.lineWidth = 3;
  faces.forEach((f, i) => {
    ctx.strokeStyle = i === 0 ? '#00e676' : '#ffca28';
    const [x, y, w, h] = f.box.map((v) => v * scale);
    ctx.strokeRect(x, y, w, h);
    ctx.fillStyle = ctx.strokeStyle;
    for (const [px, py] of f.landmarks) ctx.fillRect(px * scale - 2, py * scale - 2, 4, 4);
  });
  canvas.dataset.faces = String(faces.length);
  canvas.setAttribute('aria-label', `${file.name}: ${faces.length ? `${faces.length} face(s) outlined` : 'no face outlined'}`);
}

function describe(face) {
  const attributes = Object.entries(face.attributes)
    .map(([name, p]) => `<tr><th scope="row">${name.replace(/_/g, ' ')}</th><td>${(p * 100).toFixed(0)} %</td></tr>`)
    .join('');
  return `<table><tr><th scope="row">quality</th><td class="quality">${face.quality.toFixed(2)}</td></tr>
    <tr><th scope="row">detection</th><td>${(face.score * 100).toFixed(0)} %</td></tr>${attributes}</table>`;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function accept(slot, file, canvas) {
  photos[slot] = file;
  draw(canvas, file).catch(() => {});
}

for (const slot of ['a', 'b']) {
  const input = $(`photo-${slot}`);
  const canvas = $(`canvas-${slot}`);
  input.addEventListener('change', () => input.files[0] && accept(slot, input.files[0], canvas));
  const zone = input.closest('.drop');
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer.files[0]) accept(slot, e.dataTransfer.files[0], canvas);
  });
}
$('search-photo').addEventListener('change', (e) => e.target.files[0] && accept('search', e.target.files[0], $('canvas-search')));

$('verify-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('verdict');
  if (!photos.a || !photos.b) {
    out.innerHTML = '<p class="error">Choose two photos first.</p>';
    return;
  }
  out.textContent = 'Comparing…';
  const form = new FormData();
  form.append('a', photos.a);
  form.append('b', photos.b);
  try {
    const r = await api('/v1/verify', { method: 'POST', body: form });
    await Promise.all([draw($('canvas-a'), photos.a, [r.faces[0]]), draw($('canvas-b'), photos.b, [r.faces[1]])]);
    $('faces-a').innerHTML = describe(r.faces[0]);
    $('faces-b').innerHTML = describe(r.faces[1]);
    const verdict = r.same === null ? 'No threshold: similarity only' : r.same ? 'Same person' : 'Different people';
    out.innerHTML = `<p><span class="${r.same ? 'same' : 'different'}" id="verdict-text">${verdict}</span>
      · similarity <span id="similarity">${r.similarity.toFixed(4)}</span>
      · threshold <span id="threshold">${r.threshold === null ? 'none' : r.threshold.toFixed(4)}</span></p>`;
    out.dataset.same = String(r.same);
  } catch (err) {
    out.innerHTML = `<p class="error" role="alert">${escapeHtml(err.message)}</p>`;
  }
});

$('token').value = sessionStorage.getItem('catface-token') ?? '';
$('enrol-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('enrol-result');
  const id = $('enrol-id').value.trim();
  const token = $('token').value.trim();
  sessionStorage.setItem('catface-token', token);
  const form = new FormData();
  form.append('photo', $('enrol-photo').files[0]);
  out.textContent = 'Enrolling…';
  try {
    const r = await api(`/v1/identities/${encodeURIComponent(id)}/faces`, {
      method: 'POST',
      body: form,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    out.textContent = `Enrolled a face for ${r.identity.id} (${r.identity.faces} face(s) in total).`;
    listIdentities();
  } catch (err) {
    out.innerHTML = `<span class="error" role="alert">${escapeHtml(err.message)}</span>`;
  }
});

$('search-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('search-result');
  if (!photos.search) return;
  out.textContent = 'Searching…';
  const form = new FormData();
  form.append('photo', photos.search);
  try {
    const r = await api('/v1/identify', { method: 'POST', body: form });
    await draw($('canvas-search'), photos.search, [r.face]);
    const rows = r.matches.map((m) => `<tr><td>${escapeHtml(m.id)}</td><td>${m.score.toFixed(4)}</td></tr>`).join('');
    out.innerHTML = `<p>Best match: <strong id="identified">${r.identity === null ? 'unknown' : escapeHtml(r.identity)}</strong>
      (threshold ${r.threshold === null ? 'none' : r.threshold.toFixed(4)})</p>
      <table><thead><tr><th scope="col">identity</th><th scope="col">score</th></tr></thead><tbody>${rows}</tbody></table>`;
  } catch (err) {
    out.innerHTML = `<p class="error" role="alert">${escapeHtml(err.message)}</p>`;
  }
});

async function listIdentities() {
  try {
    const r = await api('/v1/identities?limit=200');
    $('identity-count').textContent = `(${r.total})`;
    $('identities').innerHTML = r.identities.map((i) => `<li>${escapeHtml(i.id)} · ${i.faces} face(s)</li>`).join('');
  } catch {
    $('identities').innerHTML = '';
  }
}

checkHealth();
