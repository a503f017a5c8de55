// The page an upload link shows a browser: choose one file, press Send, watch it go.
// One function returning a string, like the landing page (same look, escaping and headers),
// with one inline script: it checks the file against the link's limits before sending,
// PUTs it to the link itself with XMLHttpRequest (fetch reports no upload progress) and
// shows the edge's answer. The CSP pins that script and the style by their hashes and allows
// connections only to the page's own origin. Without script the form stays hidden (it could
// not send the file as a PUT) and the page says how to upload with curl.
import { escapeHtml, formatBytes, formatExpiry, htmlDocument, PAGE_STYLE, pageHeaders, sha256Source, type Page } from './landing-page';

/** What the upload page says; the edge takes it from the link and its ledger item. */
export interface UploadPageContent {
  /** The neutral heading (and OpenGraph title). */
  readonly title: string;
  /** The most bytes the link takes. */
  readonly maxBytes: number;
  /** When the link stops taking a file. */
  readonly expiresAt: Date;
  /** The media type the link requires (`type/subtype`); absent: any. */
  readonly contentType?: string;
  /** A line above the form: why the last attempt was refused, say. */
  readonly notice?: string;
}

const STYLE = PAGE_STYLE + [
  // The form and the terminal hint are shown or hidden by the script: `hidden` must win over display rules.
  '[hidden]{display:none!important}',
  'input[type=file]{padding:.5rem}',
  'button:disabled,input:disabled{opacity:.55;cursor:default}',
  'progress{display:block;width:100%;height:.6rem;margin:1rem 0 0;accent-color:var(--accent)}',
  '.status{color:var(--fg);min-height:1.5em;word-break:break-word}',
  '.type{color:var(--fg);font-weight:600}.max{white-space:nowrap}',
  'code{font:.85rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere;color:var(--fg)}',
  '.cli{margin-top:1.5rem;font-size:.9rem}',
].join('');

/**
 * The page's one script, as sent: the CSP carries its hash, so any change here is pinned
 * at load. Per-page values come from the form's data attributes, never from the script.
 */
const SCRIPT = `(function () {
  'use strict';
  var form = document.getElementById('upload');
  var input = document.getElementById('file');
  var button = document.getElementById('send');
  var bar = document.getElementById('progress');
  var status = document.getElementById('status');
  var max = Number(form.getAttribute('data-max'));
  var required = (form.getAttribute('data-type') || '').toLowerCase();
  function quote(s) { return "'" + s.replace(/'/g, "'\\\\''") + "'"; }
  function size(n) {
    if (n < 1000) return n + ' bytes';
    var units = ['KB', 'MB', 'GB', 'TB'], v = n / 1000, u = 0;
    while (v >= 999.95 && u < units.length - 1) { v /= 1000; u++; }
    return v.toFixed(1) + ' ' + units[u];
  }
  function say(text) { status.textContent = text; }
  function busy(on) { button.disabled = on; input.disabled = on; }
  document.getElementById('curl').textContent = 'curl -T FILE ' + (required ? '-H ' + quote('Content-Type: ' + required) + ' ' : '') + quote(location.href);
  document.getElementById('where').hidden = true;
  form.hidden = false;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var file = input.files && input.files[0];
    if (!file) { say('Choose a file first.'); return; }
    if (file.size > max) { say('Not sent: this file is ' + size(file.size) + '; the link takes at most ' + size(max) + '.'); return; }
    var type = (file.type || '').split(';')[0].trim().toLowerCase();
    // A type the browser does not know is "" or application/octet-stream: it goes as the required one.
    if (type === 'application/octet-stream' && required) type = '';
    if (required && type && type !== required) { say('Not sent: this file is ' + type + '; the link takes only ' + required + '.'); return; }
    var xhr = new XMLHttpRequest();
    xhr.open('PUT', location.href);
    xhr.setRequestHeader('Content-Type', required || type || 'application/octet-stream');
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      bar.value = e.loaded / e.total;
      say('Sending… ' + Math.floor(100 * e.loaded / e.total) + '%');
    };
    xhr.onload = function () {
      var ok = xhr.status >= 200 && xhr.status < 300;
      var plain = !/html/i.test(xhr.getResponseHeader('Content-Type') || '');
      var text = plain ? (xhr.responseText || '').trim() : '';
      say(text || (ok ? 'Sent.' : 'Not accepted (' + xhr.status + ').'));
      if (ok) { bar.value = 1; button.disabled = true; return; }
      bar.hidden = true;
      busy(false);
    };
    xhr.onerror = function () {
      say('The file did not get through (a network error). Try again.');
      bar.hidden = true;
      busy(false);
    };
    busy(true);
    bar.value = 0;
    bar.hidden = false;
    say('Sending…');
    xhr.send(file);
  });
})();`;

/**
 * Exactly what the page may use: its inline style and script, and connections to its own
 * origin (the PUT); no images, fonts, frames or form posts.
 */
const CSP = [
  "default-src 'none'",
  `style-src ${sha256Source(STYLE)}`,
  `script-src ${sha256Source(SCRIPT)}`,
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = pageHeaders(CSP);

/** A size as people read it, as the landing page shows sizes. */
export const humanBytes = formatBytes;

/**
 * The upload page: heading, what the link takes and until when, a file input and a Send
 * button (shown by the script), a status line read out by screen readers, and the curl
 * command that does the same from a terminal.
 */
export function renderUploadPage(content: UploadPageContent): Page {
  const type = content.contentType;
  const typeLine = type === undefined ? '' : `<p>The file must be of type <span class="type">${escapeHtml(type)}</span>.</p>`;
  const typeFlag = type === undefined ? '' : `-H 'Content-Type: ${escapeHtml(type)}' `;
  const body = `<h1>${escapeHtml(content.title)}</h1>`
    + `<p>Choose a file to send. The link takes one file of at most <span class="max">${humanBytes(content.maxBytes)}</span>, `
    + `until <span class="when">${formatExpiry(content.expiresAt)}</span>.</p>${typeLine}`
    + (content.notice === undefined ? '' : `<p class="notice" role="alert">${escapeHtml(content.notice)}</p>`)
    + `<form id="upload" hidden data-max="${content.maxBytes}"${type === undefined ? '' : ` data-type="${escapeHtml(type)}"`}>`
    + '<label for="file">File</label>'
    + `<input id="file" type="file" name="file" required${type === undefined ? '' : ` accept="${escapeHtml(type)}"`}>`
    + '<button id="send" type="submit">Send</button>'
    + '<progress id="progress" max="1" value="0" hidden aria-label="Upload progress"></progress>'
    + '</form>'
    + '<p id="status" class="status" role="status" aria-live="polite"></p>'
    + '<p class="cli">From a terminal<span id="where">, with this link\'s address for URL</span>: '
    + `<code id="curl">curl -T FILE ${typeFlag}'URL'</code></p>`;
  return {
    html: htmlDocument(content.title, body, { description: 'A link that takes one file.', style: STYLE, script: SCRIPT }),
    headers: HEADERS,
  };
}
