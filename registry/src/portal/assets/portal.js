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
      const doc = new DOMParser().parseFromString(await resp.text(), 'text/html');
      const fresh = doc.getElementById(section.id);
      if (!fresh) { return; }
      const node = document.importNode(fresh, true);
      section.replaceWith(node);
      enhance(node);
      if (node.dataset.poll) { poll(node); }
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

function enhance(root) {
  bars(root);
  autosubmit(root);
  copy(root);
}

enhance(document);
document.querySelectorAll('[data-poll]').forEach(poll);
