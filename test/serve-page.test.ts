// The web page in a real browser: Debian's headless Chromium driven by puppeteer-core (which never downloads
// a browser) uploads real photos, and the test checks what the page shows against the API's own answers.
// CATFACE_SCREENSHOT=path saves a screenshot of the verify tab (the README's).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { Service } from '../src/serve/http/service.js';
import { hasLfw, lfw } from './helpers/photo-fixtures.js';
import { type Fixture, form, makeFixture, readPhoto, startTestService, TOKEN } from './helpers/serve-fixture.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const skip = !CHROMIUM
  ? 'no Chromium (apt-get install chromium): page test skipped'
  : !hasLfw()
    ? 'LFW not found in ../shared/data: page test skipped'
    : null;

let fixture: Fixture;
let service: Service;
let browser: Browser;

before(async () => {
  if (skip) return;
  fixture = makeFixture('catface-page-');
  service = await startTestService(fixture);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  await service?.close();
  fixture?.cleanup();
});

/** Picks a file through the page's own file chooser, as a user would. */
async function choose(page: Page, selector: string, file: string): Promise<void> {
  const [chooser] = await Promise.all([page.waitForFileChooser(), page.click(selector)]);
  await chooser.accept([file]);
}

async function open(): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${service.url}/`);
  await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('Ready'), { timeout: 30_000 });
  assert.deepEqual(errors, []);
  return page;
}

test('verify tab: two photos → verdict, score and threshold as the API computes them, boxes drawn, attributes', {
  skip: skip ?? false,
}, async () => {
  const page = await open();
  const [a, b] = [lfw('Colin_Powell', 1), lfw('Colin_Powell', 2)];
  await choose(page, '#photo-a', a);
  await choose(page, '#photo-b', b);
  await page.click('#verify-button');
  await page.waitForSelector('#verdict-text', { timeout: 60_000 });
  const shown = await page.evaluate(() => ({
    verdict: document.getElementById('verdict-text')?.textContent,
    similarity: Number(document.getElementById('similarity')?.textContent),
    threshold: Number(document.getElementById('threshold')?.textContent),
    facesA: document.getElementById('canvas-a')?.dataset.faces,
    facesB: document.getElementById('canvas-b')?.dataset.faces,
    quality: document.querySelector('#faces-a .quality')?.textContent,
    attributes: document.querySelectorAll('#faces-a tr').length,
    label: document.getElementById('canvas-a')?.getAttribute('aria-label'),
  }));
  const api = await (await fetch(`${service.url}/v1/verify`, { method: 'POST', body: form({ a: readPhoto(a), b: readPhoto(b) }) })).json();
  assert.equal(shown.verdict, api.same ? 'Same person' : 'Different people');
  assert.equal(shown.similarity.toFixed(4), api.similarity.toFixed(4));
  assert.equal(shown.threshold, api.threshold);
  assert.equal(shown.facesA, '1');
  assert.equal(shown.facesB, '1');
  assert.equal(shown.quality, api.faces[0].quality.toFixed(2));
  assert.equal(shown.attributes, 2 + 2, 'quality, detection and the two attributes');
  assert.match(shown.label ?? '', /1 face\(s\) outlined/);
  if (process.env.CATFACE_SCREENSHOT) await page.screenshot({ path: process.env.CATFACE_SCREENSHOT, fullPage: true });
  await page.close();
});

test('gallery tab: enrol with the token, then search finds the identity', { skip: skip ?? false }, async () => {
  const page = await open();
  await page.click('#tab-gallery');
  assert.equal(await page.$eval('#panel-gallery', (e) => (e as HTMLElement).hidden), false);
  await page.type('#enrol-id', 'Serena Williams');
  await choose(page, '#enrol-photo', lfw('Serena_Williams', 1));
  // Without the token the page shows the service's 401.
  await page.click('#enrol-form button[type=submit]');
  await page.waitForFunction(() => /401/.test(document.getElementById('enrol-result')?.textContent ?? ''), { timeout: 60_000 });
  await page.type('#token', TOKEN);
  await page.click('#enrol-form button[type=submit]');
  await page.waitForFunction(() => /Enrolled a face for Serena Williams/.test(document.getElementById('enrol-result')?.textContent ?? ''), {
    timeout: 60_000,
  });
  await page.waitForFunction(() => /Serena Williams · 1 face/.test(document.getElementById('identities')?.textContent ?? ''));
  await choose(page, '#search-photo', lfw('Serena_Williams', 1));
  await page.click('#search-form button[type=submit]');
  await page.waitForSelector('#identified', { timeout: 60_000 });
  assert.equal(await page.$eval('#identified', (e) => e.textContent), 'Serena Williams');
  await page.close();
});
