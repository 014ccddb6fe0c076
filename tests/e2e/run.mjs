// tutela's pages in a real browser. Starts a real SMTP sink and `tutela serve` on a fresh
// SQLite file, then drives Debian's Chromium with Playwright through the journeys:
// a person signs in with the mailed code, withdraws a consent, objects to direct marketing,
// downloads the ZIP and we parse its CSV, files an erasure request and sees its due date; an
// agent signs in with password and TOTP, finds the overdue request first, verifies it and sees
// it completed; an auditor can change nothing. Every page passes axe-core (no serious or
// critical violations). Screenshots go to target/e2e-screenshots, or to docs/screenshots with
// UPDATE_SCREENSHOTS=1.
//
// Environment: TUTELA_BIN (default target/debug/tutela), CHROMIUM (default /usr/bin/chromium).

import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const bin = process.env.TUTELA_BIN || path.join(root, 'target/debug/tutela');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = process.env.UPDATE_SCREENSHOTS === '1'
  ? path.join(root, 'docs/screenshots')
  : path.join(root, 'target/e2e-screenshots');
const axeSource = readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
const TOKEN = 'e2e-token-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';

// --- a real SMTP server on loopback that keeps every message ---------------------------------
function smtpSink() {
  const mails = [];
  const server = net.createServer((socket) => {
    let buffer = '';
    let inData = false;
    let data = '';
    let to = [];
    socket.write('220 sink ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let i;
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            mails.push({ to, data });
            to = [];
            data = '';
            socket.write('250 queued\r\n');
          } else {
            data += line + '\n';
          }
          continue;
        }
        const upper = line.toUpperCase();
        if (upper.startsWith('EHLO') || upper.startsWith('HELO')) socket.write('250-sink\r\n250 8BITMIME\r\n');
        else if (upper.startsWith('RCPT TO:')) { to.push(line.slice(8).trim().replace(/[<>]/g, '')); socket.write('250 ok\r\n'); }
        else if (upper.startsWith('DATA')) { inData = true; socket.write('354 go on\r\n'); }
        else if (upper.startsWith('QUIT')) { socket.end('221 bye\r\n'); }
        else socket.write('250 ok\r\n');
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: server.address().port,
    close: () => server.close(),
    async code(address) {
      for (let i = 0; i < 100; i++) {
        const mail = [...mails].reverse().find((m) => m.to.includes(address));
        const m = mail && mail.data.match(/Code: (\d{8})/);
        if (m) return m[1];
        await sleep(100);
      }
      throw new Error(`no code was mailed to ${address}`);
    },
  })));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// RFC 6238 with SHA-1, six digits: what an authenticator app shows.
function totp(base32Secret, unix = Math.floor(Date.now() / 1000)) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Secret) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unix / 30)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0x0f;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

// The export's ZIP uses the "stored" method: read its files back.
function unzip(bytes) {
  const files = {};
  let at = 0;
  while (bytes.readUInt32LE(at) === 0x04034b50) {
    const size = bytes.readUInt32LE(at + 18);
    const nameLen = bytes.readUInt16LE(at + 26);
    const extra = bytes.readUInt16LE(at + 28);
    const name = bytes.subarray(at + 30, at + 30 + nameLen).toString('utf8');
    const start = at + 30 + nameLen + extra;
    files[name] = bytes.subarray(start, start + size).toString('utf8');
    at = start + size;
  }
  return files;
}

// RFC 4180: quoted fields, doubled quotes, CRLF.
function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; }
    else if (c !== '\r') field += c;
  }
  return rows;
}

function berlinDate(iso) {
  return new Intl.DateTimeFormat('de-DE', { timeZone: 'Europe/Berlin', day: '2-digit', month: '2-digit', year: 'numeric' })
    .format(new Date(iso));
}

async function api(base, method, url, body) {
  const res = await fetch(base + url, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, body: json };
}

const violations = [];
async function axeCheck(page, name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => await window.axe.run(document, {
    runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'],
  }));
  for (const v of result.violations) {
    if (v.impact === 'serious' || v.impact === 'critical') {
      violations.push(`${name}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    }
  }
  // Usable on a phone: nothing wider than the screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) violations.push(`${name}: the page is ${overflow}px wider than the screen`);
}

async function shot(page, name, fullPage = true) {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage });
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tutela-e2e-'));
  const sink = await smtpSink();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const db = `sqlite://${dir}/tutela.db`;
  writeFileSync(path.join(dir, 'tutela.toml'), [
    `public_url = "${base}"`,
    '[smtp]', 'host = "127.0.0.1"', `port = ${sink.port}`, 'security = "none"',
    'from = "Datenschutz <privacy@example.org>"', '',
  ].join('\n'));
  const env = { ...process.env, TUTELA_API_TOKEN: TOKEN, TUTELA_OPERATOR_PASSWORD: PASSWORD, TUTELA_LOG: 'warn' };
  const secrets = {};
  for (const [name, role] of [['erika', 'agent'], ['udo', 'auditor']]) {
    const out = execFileSync(bin, ['operators', 'add', name, '--role', role, '--database', db], { env }).toString();
    secrets[name] = out.match(/totp secret: ([A-Z2-7]+)/)[1];
  }
  const server = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--database', db,
    '--policy', path.join(root, 'policies/reference.toml'), '--config', path.join(dir, 'tutela.toml')],
  { env, stdio: ['ignore', 'inherit', 'inherit'] });
  let browser;
  try {
    for (let i = 0; ; i++) {
      try { if ((await fetch(`${base}/readyz`)).ok) break; } catch { /* not up yet */ }
      if (i > 100) throw new Error('tutela did not start');
      await sleep(100);
    }
    // The person, a consent for e-mail marketing, and a letter received six weeks ago.
    let r = await api(base, 'PUT', '/v1/subjects/P-100', { relationship: 'customer', contract_kind: 'telecommunications', email: 'anna@example.org' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await api(base, 'POST', '/v1/subjects/P-100/consents', { purpose: 'email_marketing', channel: 'email', granted: true, source: 'shop', notice_version: '2026-01' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await api(base, 'POST', '/v1/requests', { type: 'erasure', subject: 'X-7' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    // The letter's writer is a customer: a request about nobody would end "no data held".
    r = await api(base, 'PUT', '/v1/subjects/L-1', { relationship: 'customer', contract_kind: 'telecommunications' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const received = new Date(Date.now() - 42 * 24 * 3600 * 1000).toISOString();
    r = await api(base, 'POST', '/v1/requests', { type: 'access', subject: 'L-1', channel: 'letter', received_at: received });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const overdueId = r.body.id;

    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    // axe is injected as a script: the pages' CSP forbids scripts, so this context bypasses it.
    const person = await browser.newContext({ baseURL: base, bypassCSP: true, viewport: { width: 390, height: 844 } });
    const page = await person.newPage();

    // --- the person -------------------------------------------------------------------------
    await page.goto('/');
    await axeCheck(page, 'sign-in');
    await shot(page, 'center-sign-in');
    await page.fill('#email', 'anna@example.org');
    await page.getByRole('button', { name: 'Code senden' }).click();
    const code = await sink.code('anna@example.org');
    await page.fill('#code', code);
    await page.getByRole('button', { name: 'Bestätigen' }).click();
    await page.waitForSelector('#h-consents');
    await page.setViewportSize({ width: 1200, height: 900 });
    await axeCheck(page, 'home');
    await shot(page, 'center-home');

    await page.locator('form:has(input[name="purpose"][value="email_marketing"]) button').click();
    await page.waitForSelector('.flash');
    r = await api(base, 'GET', '/v1/subjects/P-100');
    assert.ok(!r.body.consents.some((c) => c.purpose === 'email_marketing'), 'the consent is withdrawn');

    await page.getByRole('button', { name: 'Jeder Direktwerbung widersprechen' }).click();
    await page.waitForSelector('text=Sie haben der Direktwerbung widersprochen.');
    r = await api(base, 'GET', '/v1/subjects/P-100');
    assert.equal(r.body.objections.direct_marketing, true);

    // Art. 20: the ZIP, once the worker made it.
    await page.locator('form:has(input[name="type"][value="portability"]) button').click();
    await page.waitForSelector('#requests');
    const link = page.locator('#requests tr', { hasText: 'Datenübertragbarkeit' }).getByRole('link');
    await link.click();
    for (let i = 0; ; i++) {
      if (await page.locator('a[href$="/download/zip"]').count()) break;
      if (i > 60) throw new Error('the export was not made');
      await sleep(500);
      await page.reload();
    }
    await axeCheck(page, 'request');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href$="/download/zip"]')]);
    const files = unzip(readFileSync(await download.path()));
    const csvName = Object.keys(files).find((n) => n.endsWith('.csv'));
    assert.ok(csvName, `a CSV in ${Object.keys(files)}`);
    const rows = parseCsv(files[csvName]);
    assert.ok(rows.length >= 2, `${csvName} has a header and data`);
    assert.ok(files[Object.keys(files).find((n) => n.includes('consent')) ?? csvName].includes('email_marketing'),
      'the export holds the consent history');

    // Access: read the report in the page.
    await page.goto('/');
    await page.locator('form:has(input[name="type"][value="access"]) button').click();
    await page.locator('#requests tr', { hasText: 'Auskunft' }).getByRole('link').click();
    for (let i = 0; ; i++) {
      if (await page.locator('.report').count()) break;
      if (i > 60) throw new Error('the access report was not made');
      await sleep(500);
      await page.reload();
    }
    await shot(page, 'center-access-report', false);

    await page.goto('/notice');
    await axeCheck(page, 'notice');
    await shot(page, 'center-notice', false);
    await page.goto('/?lang=en');
    assert.ok(await page.locator('html[lang="en"]').count(), 'English one click away');
    await shot(page, 'center-home-en', false);
    await page.goto('/?lang=de');

    // Erasure, listed with its due date; then e-mail marketing is refused.
    // The erasure of data only tutela holds runs at once; it ends the person's sessions, so
    // when it is done before the page loads again, the browser lands on the sign-in page.
    // Either is right; the list and its due date are checked when they are shown.
    await page.locator('form:has(input[name="type"][value="erasure"]) button').click();
    await page.waitForSelector('#requests, input#email');
    const list = await api(base, 'GET', '/v1/requests');
    const erasure = (list.body.requests ?? list.body).find((x) => x.type === 'erasure' && x.subject === 'P-100');
    assert.ok(erasure, 'the erasure request exists');
    if (await page.locator('#requests').count()) {
      const row = page.locator('#requests tr', { hasText: 'Löschung' });
      assert.equal((await row.locator('.due').innerText()).trim(), berlinDate(erasure.due_at));
    } else {
      assert.ok(['verified', 'in_progress', 'completed', 'partially_refused'].includes(erasure.status), erasure.status);
      assert.match(await page.locator('.flash').innerText(), /schon ausgeführt/, 'the page says why the person is signed out');
    }
    r = await api(base, 'POST', '/v1/decisions', { subject: 'P-100', purpose: 'email_marketing', channel: 'email', categories: ['contact'] });
    assert.equal(r.status, 200);
    assert.equal(r.body.allowed, false, 'e-mail marketing is refused');

    // --- the agent ----------------------------------------------------------------------------
    const agentCtx = await browser.newContext({ baseURL: base, bypassCSP: true, viewport: { width: 1200, height: 900 } });
    const agent = await agentCtx.newPage();
    await agent.goto('/console');
    await axeCheck(agent, 'console-login');
    await agent.fill('#name', 'erika');
    await agent.fill('#password', PASSWORD);
    await agent.fill('#totp', totp(secrets.erika));
    await agent.getByRole('button', { name: 'Anmelden' }).click();
    await agent.waitForSelector('#queue');
    await axeCheck(agent, 'console-queue');
    await shot(agent, 'console-queue');
    const first = agent.locator('#queue tbody tr').first();
    assert.match(await first.innerText(), /überfällig/);
    assert.ok((await first.getByRole('link').getAttribute('href')).endsWith(overdueId), 'the overdue request comes first');
    await first.getByRole('link').click();
    await agent.fill('#verify-note', 'Unterschrift mit dem Vertrag verglichen');
    await axeCheck(agent, 'console-request');
    await agent.getByRole('button', { name: 'Identität bestätigen' }).click();
    for (let i = 0; ; i++) {
      if ((await agent.locator('#status').innerText()).trim() === 'erledigt') break;
      if (i > 60) throw new Error('the request was not completed');
      await sleep(500);
      await agent.reload();
    }
    await shot(agent, 'console-request');
    await agent.goto('/console/policy');
    await axeCheck(agent, 'console-policy');
    await shot(agent, 'console-policy', false);
    await agent.goto('/console/subject');
    await agent.fill('#subject', 'P-100');
    await agent.getByRole('button', { name: 'Anzeigen' }).click();
    await agent.waitForSelector('text=P-100');
    await axeCheck(agent, 'console-person');
    // The agent's own AI call summary drafts, the risk reviews and the policy versions.
    r = await api(base, 'POST', '/v1/call-summaries', { subject: 'X-7', call_id: 'call-e2e', agent: 'erika', text: 'Kunde fragt nach Tarifwechsel; Rückruf vereinbart.' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await agent.goto('/console/summaries');
    await agent.waitForSelector('text=call-e2e');
    await axeCheck(agent, 'console-summaries');
    await shot(agent, 'console-summaries', false);
    await agent.getByRole('button', { name: 'Freigeben' }).click();
    await agent.waitForSelector('.flash');
    r = await api(base, 'GET', '/v1/subjects/X-7/call-summaries');
    assert.equal(r.body.length, 1, 'approved into the service history');
    await agent.goto('/console/reviews');
    await axeCheck(agent, 'console-reviews');
    await agent.goto('/console/versions');
    await axeCheck(agent, 'console-versions');
    // A legal hold placed through the API shows on the retention page.
    r = await api(base, 'POST', '/v1/legal-holds', { subject: 'X-7', reference: 'claim e2e-1', placed_by: 'dora' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await agent.goto('/console/retention');
    await agent.waitForSelector('text=claim e2e-1');
    await axeCheck(agent, 'console-retention');
    await shot(agent, 'console-retention', false);

    // --- the auditor: reads, changes nothing ---------------------------------------------------
    const auditCtx = await browser.newContext({ baseURL: base, bypassCSP: true });
    const auditor = await auditCtx.newPage();
    await auditor.goto('/console');
    await auditor.fill('#name', 'udo');
    await auditor.fill('#password', PASSWORD);
    await auditor.fill('#totp', totp(secrets.udo));
    await auditor.getByRole('button', { name: 'Anmelden' }).click();
    await auditor.waitForSelector('#queue');
    const waiting = await api(base, 'GET', '/v1/requests');
    const open = (waiting.body.requests ?? waiting.body).find((x) => x.subject === 'X-7');
    await auditor.goto(`/console/requests/${open.id}`);
    assert.equal(await auditor.locator('form[action$="/refuse"]').count(), 0, 'no actions for an auditor');
    const csrf = await auditor.locator('input[name="csrf"]').first().inputValue();
    const forced = await auditCtx.request.post(`/console/requests/${open.id}/refuse`, { form: { csrf, reason: 'test' }, maxRedirects: 0 });
    assert.equal(forced.status(), 403);
    const after = await api(base, 'GET', `/v1/requests/${open.id}`);
    assert.equal(after.body.status, open.status, 'unchanged');

    assert.deepEqual(violations, [], 'accessibility');
    console.log(`e2e: all journeys passed; screenshots in ${path.relative(root, shots)}`);
  } finally {
    if (browser) await browser.close();
    server.kill('SIGTERM');
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
