// The page of cectl listen --ui. Everything that came from a sender is set as textContent or
// as an input's value: nothing from the stream ever becomes markup, a URL or a style.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const secret = document.querySelector('meta[name="cectl-secret"]').content;
  const ROW = 30; // px, as .row in app.css
  const S = {
    entries: [], // oldest first
    bySeq: new Map(),
    lastSeq: 0,
    view: [], // the entries shown, newest first
    follow: true,
    pending: 0,
    selected: 0, // seq
    evIndex: 0,
    cesql: null, // {expr, seqs: Set}
    es: null,
    info: null,
    scheduled: false,
    queue: [],
  };
  const F = { type: '', typeRe: null, source: '', subject: '', text: '' };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // ---- the stream ----------------------------------------------------------------------
  function connect() {
    if (S.es) S.es.close();
    let url = '/_cectl/events?last=' + S.lastSeq;
    if (S.cesql) url += '&filter=' + encodeURIComponent(S.cesql.expr);
    const es = new EventSource(url);
    S.es = es;
    es.addEventListener('hello', (m) => { S.info = JSON.parse(m.data); setConn('live', 'live'); updateCounts(); });
    let headers = [];
    es.addEventListener('entry', (m) => {
      const en = JSON.parse(m.data);
      // An entry without headers has those of the entry before it on this stream.
      if (en.headers === undefined) en.headers = headers; else headers = en.headers;
      S.queue.push(en);
      schedule();
    });
    es.addEventListener('gap', (m) => notice(m.data + ' entries were pushed out of the history while this page was not connected'));
    es.addEventListener('clear', (m) => { flushQueue(); clearUpTo(Number(m.data)); });
    es.addEventListener('reset', () => { S.queue = []; clearUpTo(Infinity); S.lastSeq = 0; });
    es.onerror = () => {
      if (S.es !== es) return;
      setConn('reconnecting…', 'down');
      if (es.readyState !== EventSource.CLOSED) return;
      // The stream was refused, not lost: a listener started again with --token has a new
      // session, and only the token opens it.
      fetch('/_cectl/filter?expr=true', { credentials: 'same-origin' }).then((res) => {
        if (res.status === 401) { setConn('needs the token: reload with ?access_token=TOKEN', 'down'); return; }
        setTimeout(() => { if (S.es === es) connect(); }, 1000);
      }, () => setTimeout(() => { if (S.es === es) connect(); }, 1000));
    };
  }

  function setConn(text, cls) { const c = $('conn'); c.textContent = text; c.className = 'conn ' + cls; }
  function notice(text) { const n = $('notice'); n.textContent = text; n.hidden = false; }

  function schedule() {
    if (S.scheduled) return;
    S.scheduled = true;
    const run = () => { if (S.scheduled) { S.scheduled = false; flushQueue(); } };
    requestAnimationFrame(run);
    setTimeout(run, 50); // also when frames are not drawn (a hidden tab)
  }

  function flushQueue() {
    const q = S.queue;
    if (!q.length) return;
    S.queue = [];
    const fresh = [];
    for (const en of q) {
      if (en.seq <= S.lastSeq || S.bySeq.has(en.seq)) continue;
      prep(en);
      S.entries.push(en);
      S.bySeq.set(en.seq, en);
      S.lastSeq = en.seq;
      fresh.push(en);
    }
    const max = S.info ? S.info.history : 1000;
    if (S.entries.length > max) {
      const gone = S.entries.splice(0, S.entries.length - max);
      for (const en of gone) S.bySeq.delete(en.seq);
      if (!S.follow) S.view = S.view.filter((en) => S.bySeq.has(en.seq));
    }
    if (S.follow) {
      const add = [];
      for (let i = fresh.length - 1; i >= 0; i--) if (matches(fresh[i])) add.push(fresh[i]);
      S.view = add.concat(S.view.length > max ? S.view.slice(0, max) : S.view).filter((en) => S.bySeq.has(en.seq));
      $('list').scrollTop = 0;
    } else {
      S.pending += fresh.length;
    }
    render();
  }

  function clearUpTo(seq) {
    S.entries = S.entries.filter((en) => en.seq > seq);
    S.bySeq = new Map(S.entries.map((en) => [en.seq, en]));
    if (S.selected && !S.bySeq.has(S.selected)) closeDetail();
    S.pending = 0;
    refilter();
  }

  // prep makes an entry of the stream (what the list needs) ready for the list and filters;
  // the detail is fetched when the entry is opened (loadDetail).
  function prep(en) {
    // line is the event exactly as cectl writes it (download, copy); event is for reading
    // attributes only: JSON.parse would round a large number in the data.
    en.events = (en.lines || []).map((line) => ({ line: line, event: JSON.parse(line) }));
    delete en.lines;
    const h = en.headers || [];
    en.headers = [];
    for (let k = 0; k + 1 < h.length; k += 2) en.headers.push([h[k], h[k + 1]]);
    const ev = en.events.length ? en.events[0].event : null;
    en.type = ev ? String(ev.type) : '';
    en.source = ev ? String(ev.source) : '';
    en.subject = ev && ev.subject != null ? String(ev.subject) : '';
    en.id = ev ? String(ev.id) : '';
    en.search = searchText(en);
    en.matchLive = en.match === true;
  }

  // ---- filters -------------------------------------------------------------------------
  function globRe(p) {
    let re = '';
    for (const ch of p) re += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    return new RegExp('^' + re + '$', 'i');
  }

  function readFilters() {
    F.type = $('f-type').value.trim();
    F.typeRe = /[*?]/.test(F.type) ? globRe(F.type) : null;
    F.source = $('f-source').value.trim().toLowerCase();
    F.subject = $('f-subject').value.trim().toLowerCase();
    F.text = $('f-text').value.trim().toLowerCase();
  }

  // searchText is what the free-text filter looks in, made once when the entry arrives.
  function searchText(en) {
    const parts = [en.reason || '', en.target || '', en.kind];
    for (const h of en.headers || []) parts.push(h[0] + ': ' + h[1]);
    // A binary-mode event's Ce- headers are not in the stream: they are its attributes.
    if (en.mode === 'binary' && en.events.length === 1) {
      const ev = en.events[0].event;
      for (const k in ev) if (k !== 'data' && k !== 'data_base64') parts.push('ce-' + k + ': ' + (typeof ev[k] === 'string' ? ev[k] : JSON.stringify(ev[k])));
    }
    for (const e of en.events) {
      const ev = e.event;
      for (const k in ev) if (k !== 'data' && k !== 'data_base64') parts.push(k + '=' + ev[k]);
      const d = ev.data === undefined ? '' : typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data);
      if (d) parts.push(d.length > 4096 ? d.slice(0, 4096) : d);
    }
    return parts.join('\n').toLowerCase();
  }

  function anyEvent(en, f) {
    for (const e of en.events) if (f(e.event)) return true;
    return false;
  }

  function matches(en) {
    if (F.type) {
      const t = F.type.toLowerCase();
      if (!anyEvent(en, (ev) => F.typeRe ? F.typeRe.test(String(ev.type)) : String(ev.type).toLowerCase().includes(t))) return false;
    }
    if (F.source && !anyEvent(en, (ev) => String(ev.source).toLowerCase().includes(F.source))) return false;
    if (F.subject && !anyEvent(en, (ev) => ev.subject != null && String(ev.subject).toLowerCase().includes(F.subject))) return false;
    if (F.text && !en.search.includes(F.text)) return false;
    if (S.cesql && !(S.cesql.seqs.has(en.seq) || en.matchLive)) return false;
    return true;
  }

  function refilter() {
    readFilters();
    const v = [];
    for (let i = S.entries.length - 1; i >= 0; i--) if (matches(S.entries[i])) v.push(S.entries[i]);
    S.view = v;
    S.pending = 0;
    render();
  }

  async function applyCESQL() {
    const inp = $('f-cesql');
    const expr = inp.value.trim();
    const box = $('f-error');
    box.hidden = true;
    inp.removeAttribute('aria-invalid');
    if (!expr) {
      if (S.cesql) { S.cesql = null; connect(); }
      refilter();
      return;
    }
    // The stream stops first, so that every entry is either in the answer or comes marked on
    // the new stream.
    if (S.es) S.es.close();
    flushQueue();
    let res, body;
    try {
      res = await fetch('/_cectl/filter?expr=' + encodeURIComponent(expr), { credentials: 'same-origin' });
      body = await res.json();
    } catch (err) {
      body = { error: 'the filter could not be checked: ' + err };
    }
    if (!res || !res.ok) {
      showFilterError(expr, body);
      connect();
      return;
    }
    S.cesql = { expr: expr, seqs: new Set(body.seqs) };
    for (const en of S.entries) en.matchLive = false;
    connect();
    refilter();
  }

  function showFilterError(expr, body) {
    const inp = $('f-cesql');
    inp.setAttribute('aria-invalid', 'true');
    $('f-error-msg').textContent = body.error || 'invalid expression';
    const pre = $('f-error-caret');
    if (body.column) {
      const lines = expr.split('\n');
      const line = lines[Math.min(Math.max(body.line || 1, 1), lines.length) - 1];
      pre.textContent = line + '\n' + ' '.repeat(Math.max(body.column - 1, 0)) + '^';
      pre.hidden = false;
      let off = 0;
      for (let i = 0; i < (body.line || 1) - 1 && i < lines.length; i++) off += lines[i].length + 1;
      const at = off + body.column - 1;
      inp.focus();
      inp.setSelectionRange(at, Math.min(at + 1, inp.value.length));
    } else {
      pre.hidden = true;
    }
    $('f-error').hidden = false;
  }

  // ---- the list ------------------------------------------------------------------------
  function fmtTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d)) return '';
    const p = (n, w) => String(n).padStart(w, '0');
    return p(d.getHours(), 2) + ':' + p(d.getMinutes(), 2) + ':' + p(d.getSeconds(), 2) + '.' + p(d.getMilliseconds(), 3);
  }

  function firstLine(s) { const i = s.indexOf('\n'); return i < 0 ? s : s.slice(0, i); }

  function rowFor(en, pos) {
    const r = el('div', 'row');
    r.id = 'row-' + en.seq;
    r.setAttribute('role', 'option');
    r.dataset.seq = String(en.seq);
    r.setAttribute('aria-posinset', String(pos + 1));
    r.setAttribute('aria-setsize', String(S.view.length));
    if (en.seq === S.selected) { r.classList.add('selected'); r.setAttribute('aria-selected', 'true'); }
    r.append(el('span', 't mono', fmtTime(en.time)));
    const good = en.kind === 'recorded' || (en.status >= 200 && en.status < 300);
    r.append(el('span', 'st ' + (good ? 'ok' : 'bad'), en.kind === 'recorded' ? 'rec' : en.status));
    switch (en.kind) {
      case 'events':
      case 'recorded':
        if (!en.events.length) { r.append(el('span', 'ty muted', 'empty batch')); break; }
        r.append(el('span', 'ty', en.type));
        r.append(el('span', 'rest', 'source=' + en.source + '  id=' + en.id + (en.subject ? '  subject=' + en.subject : '') +
          (en.events.length > 1 ? '  +' + (en.events.length - 1) + ' more in the batch' : '') + (en.reason ? '  (' + en.reason + ')' : '')));
        break;
      case 'rejected':
        r.append(el('span', 'ty bad', 'rejected'));
        r.append(el('span', 'rest', firstLine(en.reason || '') + '  ' + (en.method || '') + ' ' + (en.target || '')));
        break;
      case 'handshake':
        r.append(el('span', 'ty', 'webhook handshake'));
        r.append(el('span', 'rest', (en.method || '') + ' ' + (en.target || '')));
        break;
      default:
        r.append(el('span', 'ty bad', 'turned away'));
        r.append(el('span', 'rest', en.reason || ''));
    }
    return r;
  }

  function render() {
    const list = $('list');
    const n = S.view.length;
    $('spacer').style.height = n * ROW + 'px';
    const top = list.scrollTop;
    const h = list.clientHeight || 800;
    const start = Math.max(0, Math.floor(top / ROW) - 5);
    const end = Math.min(n, Math.ceil((top + h) / ROW) + 5);
    const rows = $('rows');
    rows.style.transform = 'translateY(' + start * ROW + 'px)';
    const out = [];
    for (let i = start; i < end; i++) out.push(rowFor(S.view[i], i));
    rows.replaceChildren(...out);
    $('empty').hidden = S.entries.length > 0;
    if (S.selected) list.setAttribute('aria-activedescendant', 'row-' + S.selected);
    updateCounts();
  }

  function updateCounts() {
    const hist = S.info ? ' (history keeps ' + S.info.history + ')' : '';
    $('count').textContent = S.entries.length + (S.entries.length === 1 ? ' entry' : ' entries') + hist;
    $('shown').textContent = S.view.length === S.entries.length ? '' : 'showing ' + S.view.length + ' of ' + S.entries.length;
    const more = $('more');
    more.hidden = S.follow || S.pending === 0;
    more.textContent = S.pending + ' new';
  }

  function setFollow(on) {
    S.follow = on;
    const b = $('follow');
    b.setAttribute('aria-pressed', String(on));
    b.textContent = on ? 'Following' : 'Paused';
    if (on) { refilter(); $('list').scrollTop = 0; render(); } else updateCounts();
  }

  function select(seq, focusList) {
    S.selected = seq;
    S.evIndex = 0;
    render();
    showDetail();
    if (focusList) $('list').focus();
  }

  function move(delta) {
    if (!S.view.length) return;
    let i = S.view.findIndex((en) => en.seq === S.selected);
    i = i < 0 ? 0 : Math.min(Math.max(i + delta, 0), S.view.length - 1);
    const list = $('list');
    const y = i * ROW;
    if (y < list.scrollTop) list.scrollTop = y;
    else if (y + ROW > list.scrollTop + list.clientHeight) list.scrollTop = y + ROW - list.clientHeight;
    select(S.view[i].seq);
  }

  // ---- the detail ----------------------------------------------------------------------
  function closeDetail() { S.selected = 0; $('detail').hidden = true; $('detail').replaceChildren(); }

  function table(rows) {
    const t = el('table');
    for (const [k, v, cls] of rows) {
      const tr = el('tr');
      tr.append(el('th', null, k));
      tr.append(el('td', cls || 'mono', v));
      t.append(tr);
    }
    return t;
  }

  function highlightJSON(text) {
    const pre = el('pre', 'mono');
    const re = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b/g;
    let last = 0, m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) pre.append(document.createTextNode(text.slice(last, m.index)));
      if (m[1]) {
        pre.append(el('span', m[2] ? 'j-k' : 'j-s', m[1]));
        if (m[2]) pre.append(document.createTextNode(m[2]));
      } else if (m[3]) pre.append(el('span', 'j-n', m[3]));
      else pre.append(el('span', 'j-l', m[4]));
      last = re.lastIndex;
    }
    if (last < text.length) pre.append(document.createTextNode(text.slice(last)));
    return pre;
  }

  function shq(s) {
    s = String(s);
    // Control characters would act on the terminal: ANSI-C quoting shows them as escapes.
    if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s)) {
      return "$'" + s.replace(/[\\']/g, '\\$&').replace(/[\u0000-\u001f\u007f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')) + "'";
    }
    if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
    return "'" + s.replace(/'/g, "'\\''") + "'";
  }

  const CORE = ['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema', 'schemaurl', 'datacontentencoding'];

  function cectlCommand(e, to) {
    const ev = e.event;
    const target = to || defaultTarget();
    if (ev.data_base64 !== undefined || ev.datacontentencoding !== undefined || (ev.data !== undefined && typeof ev.data !== 'string' && !(e.data && e.data.kind === 'json'))) {
      return 'printf \'%s\\n\' ' + shq(e.line) + ' | cectl send --to ' + shq(target) + ' --from -';
    }
    const a = ['cectl send --to ' + shq(target)];
    if (ev.specversion !== '1.0') a.push('--specversion ' + shq(ev.specversion));
    for (const k of ['id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema']) {
      if (ev[k] !== undefined && ev[k] !== null) a.push('--' + k + ' ' + shq(ev[k]));
    }
    if (ev.time === undefined || ev.time === null) a.push("--time ''");
    for (const k of Object.keys(ev).sort()) {
      if (CORE.includes(k) || k === 'data' || k === 'data_base64') continue;
      const v = ev[k];
      a.push('-e ' + shq(typeof v === 'string' ? k + '=' + v : k + ':=' + JSON.stringify(v)));
    }
    if (ev.data !== undefined) a.push('--data ' + shq(typeof ev.data === 'string' ? ev.data : e.data.text));
    return a.join(' \\\n  ');
  }

  function curlCommand(e, to) {
    return 'curl -i ' + shq(to || defaultTarget()) + " \\\n  -H 'Content-Type: application/cloudevents+json; charset=utf-8' \\\n  --data-binary " + shq(e.line);
  }

  // Where this listener takes events; a listener of a broker (--from) has none to name.
  const target = document.querySelector('meta[name="cectl-target"]').content;
  function defaultTarget() { return target || 'URL'; }

  function copyButton(label, getText, status) {
    const b = el('button', null, label);
    b.type = 'button';
    b.addEventListener('click', () => {
      const text = getText();
      const done = () => { status.textContent = label.replace('Copy as', 'copied as') + '.'; };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, () => { status.textContent = 'select the command below and copy it'; });
      else status.textContent = 'select the command below and copy it';
    });
    return b;
  }

  // loadDetail fetches the detail of an entry once, then shows it if it is still selected.
  async function loadDetail(en) {
    if (en.loading) return;
    en.loading = true;
    let full = null;
    try {
      const res = await fetch('/_cectl/entry?seq=' + en.seq, { credentials: 'same-origin' });
      if (res.ok) {
        full = await res.json();
        for (const e of full.events || []) e.event = JSON.parse(e.line);
        full.events = full.events || [];
      } else if (res.status === 404) {
        full = { gone: true };
      }
    } catch (err) {
      full = null;
    }
    en.loading = false;
    en.full = full || { failed: true };
    if (S.selected === en.seq) showDetail();
    if (!full) en.full = null; // a failed fetch is tried again next time
  }

  function showDetail() {
    const sel = S.bySeq.get(S.selected);
    const d = $('detail');
    if (!sel) { closeDetail(); return; }
    if (!sel.full) { loadDetail(sel); return; }
    d.hidden = false;
    if (sel.full.gone || sel.full.failed) {
      d.replaceChildren(el('h2', null, sel.type || sel.kind), el('p', 'muted', sel.full.gone ?
        'The detail of this entry is no longer in the history: newer entries pushed it out.' : 'The detail could not be fetched: is listen still running?'));
      return;
    }
    const en = sel.full;
    const parts = [];
    const i = Math.min(S.evIndex, Math.max(en.events.length - 1, 0));
    const e = en.events[i];
    const ev = e ? e.event : null;
    const title = ev ? String(ev.type) : en.kind === 'rejected' ? 'rejected: ' + en.status + ' ' + (en.answer ? en.answer.text : '') : en.kind;
    parts.push(el('h2', null, title));
    if (en.events.length > 1) {
      const tabs = el('div', 'tabs');
      en.events.forEach((_, k) => {
        const b = el('button', null, 'event ' + (k + 1));
        b.type = 'button';
        b.setAttribute('aria-pressed', String(k === i));
        b.addEventListener('click', () => { S.evIndex = k; showDetail(); });
        tabs.append(b);
      });
      parts.push(tabs);
    }
    const sum = [['received', en.time ? new Date(en.time).toISOString() : '(recorded earlier)']];
    if (en.remote) sum.push(['from', en.remote]);
    if (en.method) sum.push([en.method === 'RECEIVE' ? 'message' : 'request', (en.method === 'RECEIVE' ? en.proto + ' ' : en.method + ' ') + (en.target || '') + (en.method === 'RECEIVE' ? '' : ' ' + (en.proto || ''))]);
    if (en.mode) sum.push(['mode', en.mode + (en.events.length > 1 ? ', ' + en.events.length + ' events' : '')]);
    if (en.answer) sum.push(['answered', en.answer.status ? en.answer.status + ' ' + en.answer.text : en.answer.text]);
    if (en.kind !== 'recorded') sum.push(['took', en.tookMs + ' ms']);
    if (e) sum.push(['filter', e.selected ? (e.duplicate ? 'selected, a duplicate' : 'selected') : 'not selected by --filter / --type (acknowledged only)']);
    parts.push(table(sum));
    if (en.reason) { parts.push(el('h3', null, 'Reason')); parts.push(el('pre', 'mono bad', en.reason)); }
    if (e && e.warnings && e.warnings.length) {
      parts.push(el('h3', null, 'Warnings'));
      const ul = el('ul', 'warnlist');
      for (const w of e.warnings) ul.append(el('li', null, w));
      parts.push(ul);
    }
    if (ev) {
      parts.push(el('h3', null, 'Attributes'));
      const rows = [];
      for (const k of CORE) if (ev[k] !== undefined && ev[k] !== null) rows.push([k, ev[k]]);
      parts.push(table(rows));
      if (e.ext && e.ext.length) {
        parts.push(el('h3', null, 'Extensions'));
        const t = el('table');
        const hr = el('tr');
        hr.append(el('th', null, 'name'), el('th', null, 'type'), el('th', null, 'value'));
        t.append(hr);
        for (const [name, type] of e.ext) {
          const tr = el('tr');
          tr.append(el('td', 'mono', name), el('td', 'muted', type), el('td', 'mono', ev[name] === undefined ? '' : typeof ev[name] === 'string' ? ev[name] : JSON.stringify(ev[name])));
          t.append(tr);
        }
        parts.push(t);
      }
      parts.push(el('h3', null, 'Data'));
      const data = e.data;
      if (!data) parts.push(el('p', 'muted', 'no data'));
      else if (data.kind === 'json') { parts.push(el('p', 'muted', 'JSON, ' + data.size + ' bytes')); parts.push(highlightJSON(data.text)); }
      else if (data.kind === 'text') { parts.push(el('p', 'muted', 'text, ' + data.size + ' bytes')); parts.push(el('pre', 'mono', data.text)); }
      else {
        parts.push(el('p', 'muted', 'binary, ' + data.size + ' bytes' + (data.truncated ? ' (hex of the first 64 KiB)' : '')));
        parts.push(el('pre', 'mono', data.hex));
        parts.push(el('p', 'muted', 'base64'));
        parts.push(el('pre', 'mono', data.base64));
      }
    }
    if (en.headers && en.headers.length) {
      parts.push(el('h3', null, en.method === 'RECEIVE' ? 'Broker properties' : 'Headers'));
      parts.push(table(en.headers.map((h) => [h[0], h[1]])));
    }
    if (en.kind !== 'recorded' && en.method) {
      parts.push(el('h3', null, en.method === 'RECEIVE' ? 'Raw message' : 'Raw request'));
      parts.push(el('pre', 'mono raw', rawText(en)));
      if (en.bodyNote) parts.push(el('p', 'muted', en.bodyNote));
    }
    if (en.answer) {
      parts.push(el('h3', null, 'cectl answered'));
      const rows = [['status', en.answer.status ? en.answer.status + ' ' + en.answer.text : en.answer.text]];
      for (const h of en.answer.headers || []) rows.push([h[0], h[1]]);
      parts.push(table(rows));
      if (en.answer.body) parts.push(el('pre', 'mono', en.answer.body));
    }
    if (en.forwards && en.forwards.length) {
      parts.push(el('h3', null, 'Relayed'));
      parts.push(table(en.forwards.map((f) => [f.to, f.error ? 'not delivered: ' + f.error : String(f.status)])));
    }
    if (ev) parts.push(...actions(en, i, ev));
    d.replaceChildren(...parts);
  }

  // rawText is the request as it came: the request line, the header fields (as they came, or
  // in name order where the server kept no order) and the body.
  function rawText(en) {
    const lines = [en.method === 'RECEIVE' ? en.proto + ' message  ' + (en.target || '') : en.method + ' ' + en.target + ' ' + en.proto];
    for (const h of en.headers || []) lines.push(h[0] + ': ' + h[1]);
    return lines.join('\r\n') + '\r\n\r\n' + (en.body || '');
  }

  function actions(en, i, ev) {
    const out = [el('h3', null, 'Act')];
    const status = el('span', 'result muted');
    status.setAttribute('role', 'status');
    const row = el('div', 'actions');
    const cmd = el('pre', 'mono cmd-cectl', cectlCommand(en.events[i]));
    const curl = el('pre', 'mono cmd-curl', curlCommand(en.events[i]));
    row.append(copyButton('Copy as cectl', () => cmd.textContent, status), copyButton('Copy as curl', () => curl.textContent, status), status);
    out.push(row, cmd, curl);
    const rs = el('form', 'actions resend');
    const to = el('input');
    to.type = 'text';
    to.name = 'to';
    to.placeholder = 'this listener (or any URL cectl send takes)';
    to.setAttribute('aria-label', 'Resend to');
    const b = el('button', null, 'Resend');
    b.type = 'submit';
    const result = el('span', 'result resend-result');
    result.setAttribute('role', 'status');
    rs.append(to, b, result);
    rs.addEventListener('submit', async (evt) => {
      evt.preventDefault();
      result.textContent = 'sending…';
      result.className = 'result resend-result muted';
      try {
        const res = await fetch('/_cectl/resend', {
          method: 'POST', credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', 'X-Cectl-Secret': secret },
          body: JSON.stringify({ seq: en.seq, index: i, to: to.value.trim() }),
        });
        const r = await res.json();
        if (!res.ok) { result.textContent = 'not sent: ' + (r.error || res.status); result.className = 'result resend-result bad'; return; }
        let text;
        if (r.ack) text = 'ACK ' + (r.status ? r.status + ' ' + r.statusText : '') + ' → ' + r.to + ' in ' + r.tookMs + ' ms';
        else if (r.delivered) text = 'NACK ' + r.status + ' ' + r.statusText + ' → ' + r.to + (r.body ? ': ' + firstLine(r.body) : '');
        else text = 'not delivered → ' + r.to + ': ' + (r.error || 'no answer');
        result.textContent = text;
        result.className = 'result resend-result ' + (r.ack ? 'ok' : 'bad');
      } catch (err) {
        result.textContent = 'not sent: ' + err;
        result.className = 'result resend-result bad';
      }
    });
    out.push(el('h3', null, 'Resend'), rs);
    // The copied commands follow the URL typed for resend.
    to.addEventListener('input', () => { cmd.textContent = cectlCommand(en.events[i], to.value.trim()); curl.textContent = curlCommand(en.events[i], to.value.trim()); });
    return out;
  }

  // ---- actions on the whole list -------------------------------------------------------
  function download() {
    const lines = [];
    for (let k = S.view.length - 1; k >= 0; k--) {
      for (const e of S.view[k].events) lines.push(e.line);
    }
    const blob = new Blob([lines.join('\n') + (lines.length ? '\n' : '')], { type: 'application/x-ndjson' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'cectl-events.jsonl';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  async function clearAll() {
    const res = await fetch('/_cectl/clear', { method: 'POST', credentials: 'same-origin', headers: { 'X-Cectl-Secret': secret } });
    if (!res.ok) notice('clearing failed: ' + res.status);
  }

  // ---- wiring --------------------------------------------------------------------------
  function inInput(t) { return t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA'); }

  function init() {
    $('here').textContent = target || 'URL';
    for (const id of ['f-type', 'f-source', 'f-subject', 'f-text']) $(id).addEventListener('input', refilter);
    $('f-cesql').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); applyCESQL(); } });
    $('filters').addEventListener('submit', (e) => { e.preventDefault(); applyCESQL(); });
    $('follow').addEventListener('click', () => setFollow(!S.follow));
    $('more').addEventListener('click', () => setFollow(true));
    $('download').addEventListener('click', download);
    $('clear').addEventListener('click', clearAll);
    $('list').addEventListener('scroll', render, { passive: true });
    $('rows').addEventListener('click', (e) => {
      const r = e.target.closest('.row');
      if (r) select(Number(r.dataset.seq), true);
    });
    $('list').addEventListener('keydown', (e) => {
      const k = e.key;
      if (k === 'ArrowDown' || k === 'j') { e.preventDefault(); move(1); }
      else if (k === 'ArrowUp' || k === 'k') { e.preventDefault(); move(-1); }
      else if (k === 'Home') { e.preventDefault(); move(-Infinity); }
      else if (k === 'End') { e.preventDefault(); move(Infinity); }
      else if (k === 'Enter' && S.selected) { e.preventDefault(); const d = $('detail'); d.tabIndex = -1; d.focus(); }
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        if (inInput(e.target)) e.target.blur();
        else if (S.selected) { closeDetail(); render(); $('list').focus(); }
        return;
      }
      if (inInput(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === '/') { e.preventDefault(); $('f-text').focus(); }
      else if (e.key === 'f') { e.preventDefault(); setFollow(!S.follow); }
    });
    window.addEventListener('resize', render);
    render();
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
