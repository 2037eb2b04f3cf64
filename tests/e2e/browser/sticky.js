#!/usr/bin/env node
// A real browser for the sticky-deploy tests (tests/e2e/proxy_browser.bats):
// headless Chromium driven by puppeteer-core.
//
// usage: node sticky.js PORT --stop-file F [--contexts N] [--max-seconds S]
//                       [--chromium PATH] [--profile-dir DIR] [--pgids-file F]
//                       [--log-headers] [--verbose]
//        node sticky.js --check [--chromium PATH] [--profile-dir DIR]
//
// --check starts Chromium, prints its version and closes it: exit status 0
// when this machine can run the test, else 3 (Chromium did not start).
//
// N browser contexts (separate cookie jars, like separate users), cache
// disabled, each loading http://127.0.0.1:PORT/page again and again (a
// navigation, waiting for the load event) until the stop file exists or
// S seconds have passed. For each page load: the page's version
// ("version=V" in the HTML) and every /asset/ response's version: its body
// (response.text(): "v1" for the JS and CSS) and its X-Version header, which
// must agree (DevTools keeps no body of an image it could not decode, so for
// the images it is the header). A page load is mixed when an asset's version
// differs from the page's. A request fails on a requestfailed event (the
// favicon cancelled by the tab's next navigation excepted: the browser's
// doing), a status other than 200, or an asset without a version; a
// navigation that throws counts once; an asset that never finishes counts.
//
// Prints one line on stdout, as tests/e2e/lib/browser.py does:
//   pages=N mixed=N failed=N requests=N versions=V1,V2
// and the details (Chromium's version, each failure and mixed page load, the
// headers of the first page load's requests as Chromium sent them with
// --log-headers, each page load's time with --verbose) on stderr.
//
// Chromium is started here, in this process's process group (puppeteer's own
// launcher would put it in a group of its own), so that killing the group
// that tests/e2e/proxy_helpers.bash's px_spawn made ends Chromium too. Its
// crash handler (chrome_crashpad_handler, two processes) starts a session
// of its own: it exits by itself about 2 s after Chromium is gone, and with
// --pgids-file F the process groups of the handlers of this Chromium (found
// by their crash database, in the profile folder) are appended to F, which
// px_teardown reads, so that a test that fails kills them at once too.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const puppeteer = require('puppeteer-core');

function usage(msg) {
	if (msg) console.error('sticky.js: ' + msg);
	console.error('usage: node sticky.js PORT --stop-file F [--contexts N] [--max-seconds S] ' +
		'[--chromium PATH] [--profile-dir DIR] [--pgids-file F] [--log-headers] [--verbose]\n' +
		'       node sticky.js --check [--chromium PATH] [--profile-dir DIR]');
	process.exit(2);
}

function parseArgs(argv) {
	const a = { contexts: 4, maxSeconds: 60, chromium: '/usr/bin/chromium', logHeaders: false, verbose: false,
		check: false };
	const rest = argv.slice(2);
	while (rest.length) {
		const k = rest.shift();
		const val = () => (rest.length ? rest.shift() : usage(k + ' needs a value'));
		if (k === '--stop-file') a.stopFile = val();
		else if (k === '--contexts') a.contexts = parseInt(val(), 10);
		else if (k === '--max-seconds') a.maxSeconds = parseFloat(val());
		else if (k === '--chromium') a.chromium = val();
		else if (k === '--profile-dir') a.profileDir = val();
		else if (k === '--pgids-file') a.pgidsFile = val();
		else if (k === '--log-headers') a.logHeaders = true;
		else if (k === '--verbose') a.verbose = true;
		else if (k === '--check') a.check = true;
		else if (/^\d+$/.test(k) && a.port === undefined) a.port = parseInt(k, 10);
		else usage('unknown argument ' + k);
	}
	if (a.check) return a;
	if (!a.port || !a.stopFile || !(a.contexts > 0) || !(a.maxSeconds > 0)) usage();
	return a;
}

const log = (...m) => console.error(...m);

// The flags that work here as root in a closed network: no sandbox, no GPU,
// no QUIC, and none of Chromium's own connections to the outside.
function chromiumArgs(profile) {
	return [
		'--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync',
		'--no-default-browser-check', '--disable-default-apps', '--disable-extensions',
		'--disable-domain-reliability', '--disable-client-side-phishing-detection',
		'--disable-breakpad', '--metrics-recording-only', '--mute-audio', '--password-store=basic',
		'--use-mock-keychain',
		// four pages load at once: none of them is a "background" page to throttle
		'--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows',
		'--disable-renderer-backgrounding',
		'--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider',
		'--user-data-dir=' + profile, '--remote-debugging-address=127.0.0.1',
		'--remote-debugging-port=0', 'about:blank',
	];
}

// Start Chromium; resolve with its process and DevTools WebSocket address.
function startChromium(exe, profile) {
	return new Promise((resolve, reject) => {
		let proc;
		try {
			// Not detached: Chromium stays in our process group. Its crash
			// handler, chrome_crashpad_handler, leaves it (a session of its
			// own), and exits by itself once Chromium is gone; its database
			// and anything else Chromium keeps under XDG_CONFIG_HOME or
			// XDG_CACHE_HOME go to the profile folder, not to ~/.config.
			const env = Object.assign({}, process.env, {
				XDG_CONFIG_HOME: path.join(profile, 'xdg-config'),
				XDG_CACHE_HOME: path.join(profile, 'xdg-cache'),
			});
			proc = spawn(exe, chromiumArgs(profile), { stdio: ['ignore', 'ignore', 'pipe'], env });
		} catch (e) {
			reject(new Error('cannot start ' + exe + ': ' + e.message));
			return;
		}
		let err = '';
		const timer = setTimeout(() => fail('no DevTools address after 30 s'), 30000);
		function fail(why) {
			clearTimeout(timer);
			try { proc.kill('SIGKILL'); } catch (e) { /* gone */ }
			reject(new Error('chromium (' + exe + ') did not start: ' + why +
				(err ? '\n--- its stderr:\n' + err.trim().split('\n').slice(-20).join('\n') : '')));
		}
		proc.on('error', (e) => fail(e.message));
		proc.on('exit', (code, sig) => fail('it exited (' + (sig || 'status ' + code) + ')'));
		proc.stderr.setEncoding('utf8');
		proc.stderr.on('data', function onData(d) {
			err += d;
			const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
			if (m) {
				clearTimeout(timer);
				proc.removeAllListeners('exit');
				proc.stderr.removeListener('data', onData);
				proc.stderr.resume(); // keep draining it
				resolve({ proc, ws: m[1] });
			}
		});
	});
}

// The process groups of the crash handlers of the Chromium whose crash
// database is under PROFILE (none in our own group).
function crashHandlerGroups(profile) {
	const db = '--database=' + path.join(profile, 'xdg-config');
	const groups = new Set();
	for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
		try {
			if (!fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\0').some((a) => a.startsWith(db))) continue;
			const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
			const pgid = parseInt(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2], 10);
			if (pgid > 1 && pgid !== process.pid) groups.add(pgid);
		} catch (e) { /* gone meanwhile */ }
	}
	return [...groups];
}

const stats = { pages: 0, mixed: 0, failed: 0, requests: 0, versions: new Set(), aborted: 0,
	assets: 0, bodies: 0, loadMs: 0 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failuresLogged = 0;
function logFailure(line) { // the first 100, so that a broken run stays readable
	if (++failuresLogged <= 100) log(line);
	else if (failuresLogged === 101) log('(more failures: only counted)');
}

function stopped(a, deadline) {
	return fs.existsSync(a.stopFile) || Date.now() >= deadline;
}

const isAsset = (url) => new URL(url).pathname.startsWith('/asset/');
const isPage = (url) => new URL(url).pathname === '/page';
const short = (url) => { const u = new URL(url); return u.pathname + u.search; };

// One user: its own context (cookie jar), one tab, page after page. Load i
// of tab n is /page?tab=n&load=i, so that every request can be given to the
// page load it belongs to by its URL or its Referer: puppeteer reports some
// responses after the load event, some after the next navigation began.
async function tab(n, browser, a, deadline) {
	const ctx = await browser.createBrowserContext();
	const page = await ctx.newPage();
	await page.setCacheEnabled(false);
	const base = 'http://127.0.0.1:' + a.port;
	const loads = new Map(); // page URL -> record of that page load
	const recOf = (req) => loads.get(req.url()) || loads.get(req.headers().referer) || null;
	const fail = (rec, what) => {
		if (rec) rec.failures.push(what);
		else { stats.failed++; logFailure('tab' + n + ' failed: ' + what); }
	};
	if (a.logHeaders && n === 0) {
		// the headers as sent (puppeteer's request.headers() lacks those the
		// network stack adds: Cookie, Sec-Fetch-*): of the first page load
		const cdp = await page.createCDPSession();
		let logged = 0;
		cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
			if (logged++ < 14) log('tab0 sent ' + JSON.stringify(e.headers));
		});
		await cdp.send('Network.enable');
	}
	page.on('request', () => { stats.requests++; });
	page.on('requestfailed', (req) => {
		const rec = recOf(req);
		const f = req.failure();
		const err = f ? f.errorText : '?';
		if (err === 'net::ERR_ABORTED' && !isAsset(req.url()) && !isPage(req.url())) {
			// the favicon, cancelled by this tab's next navigation: not the server's doing
			stats.aborted++;
			log('tab' + n + ' cancelled by the browser: ' + short(req.url()));
			return;
		}
		fail(rec, 'requestfailed ' + short(req.url()) + ' ' + err);
		if (rec && isAsset(req.url())) rec.done++;
	});
	page.on('requestfinished', (req) => {
		const rec = recOf(req);
		const resp = req.response();
		const what = short(req.url());
		if (!resp || resp.status() !== 200) {
			fail(rec, 'status ' + (resp ? resp.status() : 'none') + ' ' + what);
			if (rec && isAsset(req.url())) rec.done++;
			return;
		}
		if (!rec || !isAsset(req.url())) return;
		// The asset's version: its body (JS and CSS; DevTools keeps no body
		// of an image it could not decode) and the backend's X-Version header,
		// which must agree.
		rec.pending.push(resp.text().then((t) => t.trim(), () => '').then((body) => {
			const hdr = resp.headers()['x-version'] || '';
			stats.assets++;
			if (body) stats.bodies++;
			if (body && hdr && body !== hdr) fail(rec, 'body ' + body + ' but X-Version ' + hdr + ': ' + what);
			else if (body || hdr) rec.assets.push(body || hdr);
			else fail(rec, 'no version in ' + what);
			rec.done++;
		}));
	});
	for (let i = 0; !stopped(a, deadline); i++) {
		const url = base + '/page?tab=' + n + '&load=' + i;
		const rec = { assets: [], failures: [], done: 0, pending: [] };
		loads.set(url, rec);
		loads.delete(base + '/page?tab=' + n + '&load=' + (i - 3));
		const t0 = Date.now();
		let resp = null;
		let gotoErr = null;
		try {
			resp = await page.goto(url, { waitUntil: 'load', timeout: 20000 });
		} catch (e) {
			gotoErr = e;
		}
		const tGoto = Date.now() - t0;
		let pageV = null;
		let expected = 0;
		if (resp && resp.status() === 200) {
			const html = await resp.text().catch(() => '');
			const m = /version=([A-Za-z0-9_.-]+)/.exec(html);
			pageV = m ? m[1] : resp.headers()['x-version'] || null;
			expected = html ? (html.match(/(?:src|href)="\/asset\//g) || []).length : 12;
			if (!pageV) rec.failures.push('no version in ' + short(url));
		}
		// every asset's last event, which may come after the load event
		const until = Date.now() + 5000;
		while (rec.done < expected && Date.now() < until) await sleep(10);
		await Promise.all(rec.pending);
		if (gotoErr) {
			await sleep(200); // its requestfailed event, if any, counts instead
			if (!rec.failures.some((f) => f.includes(short(url)))) rec.failures.push('navigation to ' + short(url) + ': ' + gotoErr.message);
		} else if (!resp) {
			rec.failures.push('navigation to ' + short(url) + ': no response');
		}
		if (rec.done < expected) rec.failures.push('only ' + rec.done + ' of ' + expected + ' assets of ' + short(url) + ' finished');
		for (const f of rec.failures) logFailure('tab' + n + ' failed: ' + f);
		stats.failed += rec.failures.length;
		rec.failures = { push: (f) => { stats.failed++; logFailure('tab' + n + ' failed (late): ' + f); } };
		if (!pageV) {
			await sleep(50);
			continue;
		}
		stats.pages++;
		stats.loadMs += Date.now() - t0;
		if (a.verbose) log('tab' + n + ' load ' + i + ': ' + pageV + ', load event after ' + tGoto + ' ms, all assets after ' + (Date.now() - t0) + ' ms');
		stats.versions.add(pageV);
		for (const v of rec.assets) stats.versions.add(v);
		if (rec.assets.some((v) => v !== pageV)) {
			stats.mixed++;
			log('tab' + n + ' mixed: ' + short(url) + ' ' + pageV + ', assets ' + rec.assets.join(' '));
		}
	}
	await ctx.close().catch(() => {});
}

async function main() {
	const a = parseArgs(process.argv);
	const profile = path.resolve(a.profileDir || fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-chromium.')));
	fs.mkdirSync(profile, { recursive: true });
	let chromium = null;
	const cleanup = () => {
		if (chromium && chromium.proc.exitCode === null && chromium.proc.signalCode === null) {
			try { chromium.proc.kill('SIGKILL'); } catch (e) { /* gone */ }
		}
		if (!a.profileDir) {
			try { fs.rmSync(profile, { recursive: true, force: true }); } catch (e) { /* the crash handler's last files */ }
		}
	};
	for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
		process.on(sig, () => { cleanup(); process.exit(1); });
	}
	try {
		chromium = await startChromium(a.chromium, profile);
	} catch (e) {
		log('sticky.js: ' + e.message);
		cleanup();
		process.exit(3);
	}
	const browser = await puppeteer.connect({ browserWSEndpoint: chromium.ws, defaultViewport: null });
	const version = await browser.version();
	const exited = new Promise((r) => chromium.proc.once('exit', r));
	const closeChromium = async () => {
		// politely, then for good
		await Promise.race([browser.close().catch(() => {}), sleep(5000)]);
		await Promise.race([exited, sleep(5000)]);
		cleanup();
	};
	if (a.pgidsFile) {
		// both handlers (one watches the other) start with Chromium
		let groups = [];
		for (let i = 0; i < 20 && groups.length < 2; i++) {
			groups = crashHandlerGroups(profile);
			if (groups.length < 2) await sleep(50);
		}
		for (const g of groups) fs.appendFileSync(a.pgidsFile, g + '\n');
		log('crash handler process group(s): ' + (groups.join(' ') || 'none'));
	}
	if (a.check) {
		console.log(version + ' (' + a.chromium + ') starts, with puppeteer-core ' +
			require('puppeteer-core/package.json').version);
		await closeChromium();
		process.exit(0);
	}
	log('chromium ' + version + ', pid ' + chromium.proc.pid + ', ' + a.contexts + ' contexts');
	const deadline = Date.now() + a.maxSeconds * 1000;
	const t0 = Date.now();
	const tabs = [];
	for (let i = 0; i < a.contexts; i++) tabs.push(tab(i, browser, a, deadline));
	const results = await Promise.allSettled(tabs);
	for (const r of results) {
		if (r.status === 'rejected') {
			stats.failed++;
			log('a tab stopped: ' + (r.reason && r.reason.stack || r.reason));
		}
	}
	log('browsed for ' + ((Date.now() - t0) / 1000).toFixed(1) + ' s; ' + stats.pages + ' page loads of ' +
		(stats.pages ? Math.round(stats.loadMs / stats.pages) : 0) + ' ms on average; ' + stats.assets +
		' asset versions, ' + stats.bodies + ' of them read from the body too; ' + stats.aborted +
		' favicon request(s) cancelled by a navigation');
	console.log('pages=' + stats.pages + ' mixed=' + stats.mixed + ' failed=' + stats.failed +
		' requests=' + stats.requests + ' versions=' + [...stats.versions].sort().join(','));
	await closeChromium();
	process.exit(0);
}

main().catch((e) => {
	log('sticky.js: ' + (e && e.stack || e));
	process.exit(1);
});
