// Wharf portal: the little the pages need beyond HTML. No inline script anywhere
// (the Content-Security-Policy forbids it); everything hooks on data- attributes.
'use strict';

// Sections marked data-poll="ms" are refreshed from the server until the fresh copy
// no longer carries data-poll (a scan or a retention run that has ended).
function poll(section) {
  const every = parseInt(section.dataset.poll, 10) || 2000;
  setTimeout(async () => {
    try {
      const resp = await fetch(location.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } });
      if (!resp.ok) { poll(section); return; }
      if (!document.contains(section)) { return; }
      swapFrom(await resp.text(), section.id);
    } catch (e) {
      poll(section);
    }
  }, every);
}

// Severity bars: segment widths from their data-weight (no inline styles under the CSP).
function bars(root) {
  root.querySelectorAll('.sevbar .seg[data-weight]').forEach((seg) => {
    seg.style.flexGrow = seg.dataset.weight;
  });
}

// Filters submit as soon as a select or checkbox changes.
function autosubmit(root) {
  root.querySelectorAll('[data-autosubmit]').forEach((el) => {
    el.addEventListener('change', () => el.form && el.form.requestSubmit());
  });
}

// Copy buttons: data-copy names the input whose value is copied.
function copy(root) {
  root.querySelectorAll('button[data-copy]').forEach((btn) => {
    btn.addEventListener('click', async () => {
      const input = document.getElementById(btn.dataset.copy);
      if (!input) { return; }
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (e) {
        input.select();
        document.execCommand('copy');
      }
      const label = btn.textContent;
      btn.textContent = 'Copied';
      setTimeout(() => { btn.textContent = label; }, 1500);
    });
  });
}

// Swap the element with `id` for its copy in a freshly fetched page, and keep
// polling it while the copy says so.
function swapFrom(html, id) {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const fresh = doc.getElementById(id);
  const old = document.getElementById(id);
  if (!fresh || !old) { return; }
  const node = document.importNode(fresh, true);
  old.replaceWith(node);
  enhance(node);
  if (node.dataset.poll) { poll(node); }
}

// Forms marked data-refresh="ID" are sent in the background (with the session's CSRF
// token in the form) and only the element ID is refreshed from the answer: starting
// a scan shows its progress, then its findings, without leaving the page.
function asyncForms(root) {
  root.querySelectorAll('form[data-refresh]').forEach((form) => {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = new URLSearchParams(new FormData(form));
      if (ev.submitter && ev.submitter.name) { body.set(ev.submitter.name, ev.submitter.value); }
      // getAttribute: a control named "action" shadows the form's own property.
      const resp = await fetch(form.getAttribute('action'), {
        method: 'POST', body, credentials: 'same-origin',
        headers: { 'X-CSRF-Token': document.body.dataset.csrf || '' },
      });
      if (resp.ok) {
        swapFrom(await resp.text(), form.dataset.refresh);
      } else {
        const doc = new DOMParser().parseFromString(await resp.text(), 'text/html');
        const msg = doc.querySelector('[role="alert"]');
        const note = document.createElement('p');
        note.className = 'error';
        note.setAttribute('role', 'alert');
        note.textContent = msg ? msg.textContent : `${resp.status} ${resp.statusText}`;
        form.after(note);
      }
    });
  });
}

function enhance(root) {
  bars(root);
  asyncForms(root);
  autosubmit(root);
  copy(root);
}

enhance(document);
document.querySelectorAll('[data-poll]').forEach(poll);
