// Browser end-to-end test of `irbis report` and `irbis serve` in Debian's Chromium, driven by
// playwright-core (no browser download). Started by tests/e2e/browser.sh, which prepares the
// collection and passes everything through the environment:
//   IRBIS, COLL (collection), REPORT (static report folder), SHOTS (screenshot folder),
//   EXPECT (JSON: images, failed, groups, duplicates, k, points, unique_ranked, unique_top (ids of
//   the 12 most unique, from irbis unique), xss_name), QUERY (an image file),
//   BAD (an undecodable file), CHROMIUM (default /usr/bin/chromium)
'use strict';
const { chromium } = require('playwright-core');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const assert = require('assert/strict');

const env = process.env;
const expect = JSON.parse(env.EXPECT);
const shots = env.SHOTS;
fs.mkdirSync(shots, { recursive: true });
let step = 'start';
const log = (m) => console.log(`browser: ${m}`);

async function checkImagesLoaded(page, what) {
  // Thumbnails load lazily: make them eager, then wait for every one to finish (or fail).
  await page.$$eval('img', (imgs) => imgs.forEach((i) => { i.loading = 'eager'; }));
  await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 30000 });
  const broken = await page.$$eval('img', (imgs) => imgs.filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.src));
  assert.deepEqual(broken, [], `${what}: images that did not load`);
}

async function startServe() {
  const proc = spawn(env.IRBIS, ['serve', env.COLL, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('serve did not print its URL in 60 s')), 60000);
    proc.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) { clearTimeout(timer); resolve(m[0]); }
    });
    proc.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return { proc, url };
}

(async () => {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'irbis-chromium-'));
  // A fresh profile (--user-data-dir) per run: playwright passes it for a persistent context.
  const browser = await chromium.launchPersistentContext(userDir, {
    executablePath: env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let serve;
  try {
    const page = await browser.newPage();
    const dialogs = [];
    page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
    const external = [];
    page.on('request', (r) => { const u = r.url(); if (!/^(file|data|about|http:\/\/127\.0\.0\.1)/.test(u)) external.push(u); });

    // ---- the static report, from disk ----
    step = 'static report';
    await page.goto('file://' + path.resolve(env.REPORT, 'index.html'));
    for (const id of ['overview', 'dupes', 'unique', 'clusters']) assert.ok(await page.isVisible(`section#${id}`), `section ${id}`);
    assert.equal(await page.getAttribute('#overview', 'data-images'), String(expect.images), 'overview image count');
    assert.equal(await page.textContent('#overview .card[data-key=images] .v'), String(expect.images), 'images card');
    assert.equal(await page.textContent('#overview .card[data-key=failed] .v'), String(expect.failed), 'failed card');
    assert.equal(await page.locator('table.failures tbody tr').count(), expect.failed, 'failure rows');
    assert.equal(await page.locator('#dupes .group').count(), expect.groups, 'duplicate groups drawn');
    assert.equal(await page.locator('#dupes .group figure.keep').count(), expect.groups, 'one kept image per group');
    assert.equal(await page.locator('#dupes figure.dup').count(), expect.duplicates, 'duplicates drawn');
    assert.equal(await page.getAttribute('#clusters', 'data-k'), String(expect.k), 'k');
    assert.equal(await page.locator('#cluster-map .pt').count(), expect.points, 'points on the map');
    assert.equal(await page.locator('table.cluster-sizes tbody tr').count(), expect.k, 'one row per cluster');
    assert.ok(await page.locator('table.silhouette tbody tr').count() >= 1, 'silhouette table');
    assert.equal(await page.locator('table.silhouette tr.chosen').count(), 1, 'chosen k marked');
    assert.ok(await page.locator('svg.bars').count() >= 2, 'format and size charts');
    // Unique: the 12 most unique images, each beside its nearest neighbour, and the boxplot.
    assert.equal(await page.getAttribute('#unique', 'data-ranked'), String(expect.unique_ranked), 'images ranked');
    const pairIds = await page.locator('#unique .pair').evaluateAll((ps) => ps.map((p) => Number(p.dataset.id)));
    assert.deepEqual(pairIds, expect.unique_top, 'the most unique images, in the order of irbis unique');
    assert.equal(await page.locator('#unique .pair figure.uniq').count(), expect.unique_top.length, 'one unique image per pair');
    assert.equal(await page.locator('#unique .pair figure.nb').count(), expect.unique_top.length, 'its neighbour beside it');
    assert.ok(await page.isVisible('#unique svg.boxplot g.box'), 'distance boxplot drawn');
    const box = await page.locator('#unique svg.boxplot g.box').boundingBox();
    assert.ok(box && box.width > 100, 'the boxplot has a visible width');
    // The hostile file name is shown as text, not run.
    const names = await page.$$eval('.name', (els) => els.map((e) => e.textContent));
    assert.ok(names.includes(expect.xss_name), 'the hostile file name is shown as text');
    const titles = await page.$$eval('figure.thumb', (els) => els.map((e) => e.title));
    assert.ok(titles.some((t) => t.endsWith('<script>alert(1)</script>.jpg')), 'the <script> path is shown as text');
    // Duplicate cards tell their files apart: within a group the shown names differ, each the
    // end of the card's full path (a shortest unique suffix), and sizes stay on one line.
    const cards = await page.$$eval('#dupes .group', (gs) => gs.map((g) => [...g.querySelectorAll('figure.thumb')]
      .map((f) => ({ name: f.querySelector('.name').textContent, path: f.title }))));
    for (const g of cards) {
      assert.equal(new Set(g.map((c) => c.name)).size, g.length, 'names differ within a group: ' + JSON.stringify(g));
      for (const c of g) assert.ok(c.path === c.name || c.path.endsWith('/' + c.name), 'a suffix of the path: ' + JSON.stringify(c));
    }
    assert.ok(cards.some((g) => g.some((c) => c.name.includes('/'))), 'same-named copies are shown with their folder');
    const dimLines = await page.$$eval('#dupes .dims', (ds) => ds.map((d) => d.getClientRects().length));
    assert.ok(dimLines.length > 0 && dimLines.every((n) => n === 1), 'sizes never wrap: ' + JSON.stringify(dimLines));
    // Confusion matrices: every count contrasts >= 4.5 with its cell (text colour chosen from the
    // cell's luminance, not overridden by the page's stylesheet); class names are not cut.
    const cm = await page.$$eval('.confusion-matrix svg', (svgs) => svgs.map((svg) => {
      const rgb = (s) => s.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
      const lum = ([r, g, b]) => [r, g, b].map((c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; })
        .reduce((a, c, i) => a + c * [0.2126, 0.7152, 0.0722][i], 0);
      const ratios = [...svg.querySelectorAll('rect.cell')].map((rect) => {
        const text = rect.nextElementSibling;
        const a = lum(rgb(getComputedStyle(rect).fill)), b = lum(rgb(getComputedStyle(text).fill));
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      });
      const box = svg.getBoundingClientRect();
      const cut = [...svg.querySelectorAll('text.row-label, text.col-label')].filter((t) => {
        const r = t.getBoundingClientRect();
        return r.left < box.left - 0.5 || r.top < box.top - 0.5 || r.right > box.right + 0.5;
      }).map((t) => t.textContent);
      return { ratios, cut };
    }));
    assert.ok(cm.length >= 1, 'the report shows the classifier confusion matrix');
    for (const m of cm) {
      assert.ok(m.ratios.length >= 4 && Math.min(...m.ratios) >= 4.5, 'count contrast: ' + JSON.stringify(m.ratios));
      assert.deepEqual(m.cut, [], 'class names inside the picture');
    }
    await checkImagesLoaded(page, 'static report');
    await page.screenshot({ path: path.join(shots, 'report-top.png') });
    await page.locator('#dupes').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(shots, 'report-dupes.png') });
    await page.locator('#cluster-map').screenshot({ path: path.join(shots, 'report-cluster-map.png') });
    await page.locator('#unique').screenshot({ path: path.join(shots, 'report-unique.png') });
    await page.screenshot({ path: path.join(shots, 'report-full.png'), fullPage: true });
    log(`static report ok: ${expect.images} images, ${expect.groups} groups, k=${expect.k}`);

    // ---- serve ----
    step = 'serve';
    serve = await startServe();
    const base = serve.url;
    const api = async (p) => (await page.request.get(base + p.replace(/^\//, ''))).json();
    await page.goto(base);
    assert.equal(await page.getAttribute('#overview', 'data-images'), String(expect.images), 'served overview');
    await checkImagesLoaded(page, 'served overview');
    await page.screenshot({ path: path.join(shots, 'serve-overview.png') });

    step = 'serve dupes';
    const dj = await api('/api/dupes?limit=1000');
    assert.equal(dj.total_groups, expect.groups, 'API group count');
    await page.click('header a[href="/dupes"]');
    await page.waitForSelector('#dupes .group');
    const g1 = page.locator('#dupes .group').first();
    assert.equal(await g1.locator('figure.keep').getAttribute('data-id'), String(dj.groups[0].keep.id), 'kept image of group 1');
    const dupIds = await g1.locator('figure.dup').evaluateAll((fs) => fs.map((f) => Number(f.dataset.id)));
    assert.deepEqual(dupIds, dj.groups[0].duplicates.map((d) => d.id), 'duplicates of group 1');
    await checkImagesLoaded(page, 'served dupes');
    await page.screenshot({ path: path.join(shots, 'serve-dupes.png') });

    step = 'more like this';
    const keepId = dj.groups[0].keep.id;
    await g1.locator('figure.keep a').click();
    await page.waitForURL(/\/search\?id=\d+/);
    await page.waitForSelector('#results figure');
    const got = await page.locator('#results figure').evaluateAll((fs) => fs.map((f) => Number(f.dataset.id)));
    assert.ok(got.length >= 5, 'more like this returns results');
    assert.ok(!got.includes(keepId), 'the query itself is not a result');
    // A near duplicate of the query is among its nearest neighbours.
    const nearIds = dj.groups[0].duplicates.map((d) => d.id);
    assert.ok(got.slice(0, 10).some((id) => nearIds.includes(id)), 'a duplicate is among the top 10');
    const sj = await api(`/api/search?id=${keepId}&k=${got.length}`);
    assert.deepEqual(got, sj.results.map((r) => r.id), 'page and API agree');
    await checkImagesLoaded(page, 'more like this');
    await page.screenshot({ path: path.join(shots, 'serve-more-like-this.png') });

    step = 'upload';
    await page.goto(base + 'search');
    await page.setInputFiles('#upload', env.QUERY);
    await page.waitForSelector('#results[data-count]:not([data-count="0"]) figure');
    const res = await page.locator('#results figure').evaluateAll((fs) => fs.map((f) => ({
      path: f.title, score: parseFloat(f.querySelector('figcaption').textContent.replace('similarity ', '')) })));
    assert.ok(res[0].score > 0.99, `the top result is the photo itself or a copy (score ${res[0].score})`);
    assert.ok(res.filter((r) => r.score > 0.99).some((r) => path.basename(r.path) === path.basename(env.QUERY)),
      'the uploaded photo is among the exact matches');
    assert.match(await page.textContent('#query-info'), /results for uploaded/, 'query described');
    await checkImagesLoaded(page, 'upload results');
    await page.screenshot({ path: path.join(shots, 'serve-upload.png') });

    step = 'bad upload';
    await page.setInputFiles('#upload', env.BAD);
    await page.waitForFunction(() => document.getElementById('error').textContent.length > 0);
    assert.match(await page.textContent('#error'), /error 400/, 'undecodable upload: 400 with a message');
    await page.screenshot({ path: path.join(shots, 'serve-bad-upload.png') });

    step = 'serve unique';
    await page.goto(base);
    await page.click('header a[href="/unique"]');
    await page.waitForSelector('#unique .pair');
    const served = await page.locator('#unique .pair').evaluateAll((ps) => ps.map((p) => ({
      id: Number(p.dataset.id), neighbor: Number(p.dataset.neighbor) })));
    const uj = await api(`/api/unique?limit=${served.length}`);
    assert.equal(served.length, Math.min(50, expect.images), 'one page of the live unique view');
    assert.deepEqual(served.map((x) => x.id), uj.items.map((x) => x.id), 'page and /api/unique agree');
    assert.deepEqual(served.slice(0, expect.unique_top.length).map((x) => x.id), expect.unique_top, 'same top as irbis unique');
    await checkImagesLoaded(page, 'served unique');
    await page.screenshot({ path: path.join(shots, 'serve-unique.png') });
    // "More like this" on the most unique image finds its nearest neighbour.
    await page.locator('#unique .pair').first().locator('figure.uniq a').click();
    await page.waitForURL(/\/search\?id=\d+/);
    await page.waitForSelector('#results figure');
    const near = await page.locator('#results figure').evaluateAll((fs) => fs.map((f) => Number(f.dataset.id)));
    assert.ok(near.includes(served[0].neighbor), 'the unique image\'s neighbour is among its results');

    step = 'clusters page';
    await page.goto(base + 'clusters');
    assert.equal(await page.locator('#cluster-map .pt').count(), expect.points, 'served map points');
    await page.locator('#cluster-map .pt').last().click({ force: true });  // a map point is a "more like this" link too
    await page.waitForURL(/\/search\?id=\d+/);
    await page.goto(base + 'clusters');
    await page.screenshot({ path: path.join(shots, 'serve-clusters.png'), fullPage: true });

    assert.deepEqual(dialogs, [], 'no script ran from file names (alert dialogs)');
    assert.deepEqual(external, [], 'no request left the machine');
    log('PASS');
  } catch (e) {
    console.error(`FAIL (${step}): ${e.message}`);
    process.exitCode = 1;
  } finally {
    if (serve) serve.proc.kill('SIGTERM');
    await browser.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  }
})();
