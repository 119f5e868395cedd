// Node.js, knowing nothing of greenshim: libuv's thread pool (crypto, fs,
// zlib, name lookups), V8's platform threads, worker_threads blocking in
// Atomics.wait on shared memory, an HTTP server and its clients in one
// process, child processes and timers. Each result is checked against one
// computed another way; prints "ok" last when all hold, else throws.
'use strict';
const assert = require('assert');
const crypto = require('crypto');
const cp = require('child_process');
const dns = require('dns');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { Worker } = require('worker_threads');

const cb = (f) => new Promise((res, rej) => f((e, v) => (e ? rej(e) : res(v))));

async function threadPool(dir) {
	// Sixteen key derivations at once on the pool's four threads.
	const keys = await Promise.all([...Array(16).keys()].map((i) =>
		cb((k) => crypto.pbkdf2('pw' + i, 'salt', 20000, 32, 'sha256', k))));
	keys.forEach((k, i) =>
		assert.deepStrictEqual(k, crypto.pbkdf2Sync('pw' + i, 'salt', 20000, 32, 'sha256')));

	await Promise.all([...Array(64).keys()].map((i) =>
		fs.promises.writeFile(path.join(dir, 'f' + i), 'x'.repeat(i * 100))));
	const sizes = await Promise.all([...Array(64).keys()].map((i) =>
		fs.promises.readFile(path.join(dir, 'f' + i)).then((b) => b.length)));
	sizes.forEach((n, i) => assert.strictEqual(n, i * 100));

	const data = crypto.randomBytes(1 << 20);
	const z = await cb((k) => zlib.gzip(data, k));
	assert.ok((await cb((k) => zlib.gunzip(z, k))).equals(data));

	const a = await cb((k) => dns.lookup('localhost', { family: 4 }, k));
	assert.strictEqual(a, '127.0.0.1');
}

// Four workers hand a counter round a ring through shared memory: each
// waits in Atomics.wait (a blocking wait on its own thread) for its turn,
// adds one and wakes the next. Then each computes a sum on its own.
function workers() {
	const rounds = 500, n = 4;
	const shared = new Int32Array(new SharedArrayBuffer(4 * (n + 1)));
	const src = `
		const { parentPort, workerData: { shared, me, n, rounds } } = require('worker_threads');
		let mine = 0; // each worker's own global state
		for (let r = 0; r < rounds; r++) {
			while (Atomics.load(shared, me) === 0)
				Atomics.wait(shared, me, 0, 10000);
			Atomics.store(shared, me, 0);
			Atomics.add(shared, n, 1);
			mine++;
			const next = (me + 1) % n;
			Atomics.store(shared, next, 1);
			Atomics.notify(shared, next);
		}
		let s = 0;
		for (let k = 0; k < 2e6; k++) s = (s + k * (me + 1)) % 1000003;
		parentPort.postMessage({ mine, s });`;
	const ws = [...Array(n).keys()].map((me) => new Promise((res, rej) => {
		const w = new Worker(src, { eval: true, workerData: { shared, me, n, rounds } });
		w.on('message', res);
		w.on('error', rej);
	}));
	Atomics.store(shared, 0, 1);
	Atomics.notify(shared, 0);
	return Promise.all(ws).then((rs) => {
		assert.strictEqual(Atomics.load(shared, n), n * rounds);
		rs.forEach((r, me) => {
			let s = 0;
			for (let k = 0; k < 2e6; k++) s = (s + k * (me + 1)) % 1000003;
			assert.deepStrictEqual(r, { mine: rounds, s });
		});
	});
}

async function httpServer() {
	const srv = http.createServer((req, res) => {
		let b = '';
		req.on('data', (d) => (b += d));
		req.on('end', () => res.end('echo:' + b));
	});
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	const agent = new http.Agent({ keepAlive: true, maxSockets: 100 });
	const bodies = await Promise.all([...Array(300).keys()].map((i) => new Promise((res, rej) => {
		const rq = http.request({ port: srv.address().port, host: '127.0.0.1', method: 'POST', agent },
			(r) => {
				let b = '';
				r.on('data', (d) => (b += d));
				r.on('end', () => res(b));
			});
		rq.on('error', rej);
		rq.end('m' + i);
	})));
	bodies.forEach((b, i) => assert.strictEqual(b, 'echo:m' + i));
	agent.destroy();
	await new Promise((r) => srv.close(r));
}

async function children() {
	assert.strictEqual(cp.execSync('echo hi').toString(), 'hi\n');
	const out = await cb((k) => cp.exec('sleep 0.1; echo done; exit 3', (e, so) =>
		k(null, [e && e.code, so])));
	assert.deepStrictEqual(out, [3, 'done\n']);
}

// Three timers set one after another fire in the order of their deadlines,
// none before its delay has passed. Node reads the clock at each setTimeout,
// so a thread descheduled between two calls (natively or on a busy hub)
// moves the later deadlines: the order is checked for every pair whose
// deadlines, taken from the clock before and after each call, cannot tie.
async function timers() {
	const ns = (ms) => BigInt(ms) * 1000000n, slack = ns(2); // Node's clock counts whole ms
	const set = [], fired = [];
	await new Promise((res) => {
		for (const ms of [30, 10, 50]) {
			const before = process.hrtime.bigint();
			setTimeout(() => {
				fired.push({ ms, at: process.hrtime.bigint() });
				if (fired.length === 3) res();
			}, ms);
			set.push({ ms, first: before + ns(ms), last: process.hrtime.bigint() + ns(ms) });
		}
	});
	const rank = new Map(fired.map((f, i) => [f.ms, i]));
	for (const a of set) {
		const f = fired[rank.get(a.ms)];
		assert.ok(f.at + slack >= a.first, `the ${a.ms} ms timer fired early`);
		for (const b of set)
			if (a.last + slack < b.first)
				assert.ok(rank.get(a.ms) < rank.get(b.ms),
					`the ${b.ms} ms timer fired before the ${a.ms} ms one: ${JSON.stringify(set, (k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
	}
}

async function main() {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gs-node-'));
	try {
		await Promise.all([threadPool(dir), workers(), httpServer(), timers()]);
		await children();
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
	console.log('ok');
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
