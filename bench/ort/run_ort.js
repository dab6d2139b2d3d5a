// ONNX Runtime side of the side-by-side benchmark: runs a workload's ONNX file
// on the CPU execution provider with the same requests edgemtl-bench scores
// (one user, N items; the user's features repeated on every item row).
//
//   node bench/ort/run_ort.js MODEL.onnx SPEC.json [--items N] [--threads T]
//                             [--warmup K] [--runs R] [--seed S] [--reference F32.onnx]
//
// SPEC.json is written by bench/workloads.py. Prints one JSON object with
// load_ms, first_ms, min/p50/p90/p99_ms, items_per_s and peak_rss_kb.
// --reference: also scores the requests with that model (the f32 original of a
// quantised MODEL) and adds `fidelity`: per task, over the requests, the median
// and worst Pearson and Spearman correlation and top-10 / top-50 overlap of
// MODEL's scores against the reference's, and the largest absolute difference.
'use strict';
const ort = require('onnxruntime-node');
const fs = require('fs');

function parseArgs(argv) {
  const args = { items: 500, threads: 1, warmup: 5, runs: 30, seed: 1, reference: '', positional: [] };
  for (let i = 0; i < argv.length; ++i) {
    const name = argv[i].replace(/^--/, '');
    if (argv[i].startsWith('--')) {
      if (!(name in args) || i + 1 >= argv.length) throw new Error(`bad option ${argv[i]}`);
      args[name] = name === 'reference' ? argv[++i] : Number(argv[++i]);
    } else {
      args.positional.push(argv[i]);
    }
  }
  if (args.positional.length !== 2) throw new Error('usage: run_ort.js MODEL.onnx SPEC.json [options]');
  return args;
}

// xorshift64*: a small seeded generator (the values only need the right ranges).
function makeRandom(seed) {
  let state = BigInt(seed) * 0x9E3779B97F4A7C15n & 0xFFFFFFFFFFFFFFFFn || 1n;
  return () => {
    state ^= state >> 12n; state ^= (state << 25n) & 0xFFFFFFFFFFFFFFFFn; state ^= state >> 27n;
    return Number(((state * 0x2545F4914F6CDD1Dn) & 0xFFFFFFFFFFFFFFFFn) >> 11n) / 2 ** 53;
  };
}

function normal(random) {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

// One request: every feature as an [items, width] tensor; user features are
// drawn once and repeated on every row, item features are drawn per row.
function makeRequest(spec, items, random) {
  const feeds = {};
  for (const f of spec.features) {
    const rows = f.side === 'user' ? 1 : items;
    const width = f.width;
    const isDense = f.kind === 'dense';
    const drawn = isDense ? new Float32Array(rows * width) : new BigInt64Array(rows * width);
    for (let r = 0; r < rows; ++r) {
      const length = f.kind === 'id_list' ? Math.floor(random() * (width + 1)) : width;
      for (let i = 0; i < width; ++i) {
        const k = r * width + i;
        if (isDense) drawn[k] = normal(random);
        else drawn[k] = i < length ? BigInt(Math.floor(random() * f.table)) : 0n;
      }
    }
    const data = isDense ? new Float32Array(items * width) : new BigInt64Array(items * width);
    for (let r = 0; r < items; ++r) data.set(f.side === 'user' ? drawn : drawn.subarray(r * width, (r + 1) * width), r * width);
    const dims = f.kind === 'id' ? [items] : [items, width];
    feeds[f.name] = new ort.Tensor(isDense ? 'float32' : 'int64', data, dims);
  }
  return feeds;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const index = Math.max(0, Math.ceil((p / 100) * sorted.length) - (p > 0 ? 1 : 0));
  return sorted[Math.min(index, sorted.length - 1)];
}

function pearson(a, b) {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n, mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : (saa === sbb ? 1 : 0);
}

// Ranks with ties sharing their mean rank.
function ranks(values) {
  const order = values.map((v, i) => i).sort((x, y) => values[x] - values[y]);
  const rank = new Array(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) ++j;
    for (let k = i; k <= j; ++k) rank[order[k]] = (i + j) / 2;
    i = j + 1;
  }
  return rank;
}

function topOverlap(a, b, k) {
  const top = (v) => new Set(v.map((x, i) => i).sort((x, y) => v[y] - v[x] || x - y).slice(0, k));
  const ta = top(a), tb = top(b);
  let common = 0;
  for (const i of ta) if (tb.has(i)) ++common;
  return common / k;
}

function median(values) {
  const s = [...values].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// Per task: how the quantised model's scores of each request rank against the reference's.
async function fidelity(session, referencePath, pool, items) {
  const reference = await ort.InferenceSession.create(referencePath, { executionProviders: ['cpu'] });
  const perTask = [];
  let maxAbs = 0;
  for (const feeds of pool) {
    const got = (await session.run(feeds)).scores, want = (await reference.run(feeds)).scores;
    const tasks = got.dims.length > 1 ? got.dims[1] : 1;
    for (let t = 0; t < tasks; ++t) {
      const a = [], b = [];
      for (let r = 0; r < items; ++r) { a.push(got.data[r * tasks + t]); b.push(want.data[r * tasks + t]); }
      for (let r = 0; r < items; ++r) maxAbs = Math.max(maxAbs, Math.abs(a[r] - b[r]));
      perTask[t] = perTask[t] || { pearson: [], spearman: [], top10: [], top50: [] };
      perTask[t].pearson.push(pearson(a, b));
      perTask[t].spearman.push(pearson(ranks(a), ranks(b)));
      if (items >= 10) perTask[t].top10.push(topOverlap(a, b, 10));
      if (items >= 50) perTask[t].top50.push(topOverlap(a, b, 50));
    }
  }
  const summary = (v) => (v.length ? { median: median(v), worst: Math.min(...v) } : null);
  return {
    requests: pool.length, max_abs_diff: maxAbs,
    tasks: perTask.map((m) => ({ pearson: summary(m.pearson), spearman: summary(m.spearman),
                                 top10: summary(m.top10), top50: summary(m.top50) })),
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const [modelPath, specPath] = args.positional;
  const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
  const random = makeRandom(args.seed);
  const pool = [];
  for (let r = 0; r < 8; ++r) pool.push(makeRequest(spec, args.items, random));

  let start = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
  });
  const loadMs = Number(process.hrtime.bigint() - start) / 1e6;
  const run = async (r) => {
    const t0 = process.hrtime.bigint();
    const out = await session.run(pool[r % pool.length]);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (out.scores.dims[0] !== args.items) throw new Error('unexpected output shape');
    return ms;
  };
  const firstMs = await run(0);
  for (let r = 0; r < args.warmup; ++r) await run(r + 1);
  const times = [];
  for (let r = 0; r < args.runs; ++r) times.push(await run(r));
  times.sort((a, b) => a - b);
  const p50 = percentile(times, 50);
  const quality = args.reference ? await fidelity(session, args.reference, pool, args.items) : undefined;
  console.log(JSON.stringify({
    fidelity: quality,
    engine: 'onnxruntime-node', version: ort.env.versions.common, items: args.items, threads: args.threads,
    runs: times.length, load_ms: loadMs, first_ms: firstMs, min_ms: times[0], p50_ms: p50,
    p90_ms: percentile(times, 90), p99_ms: percentile(times, 99), items_per_s: args.items / (p50 / 1000),
    peak_rss_kb: Math.round(process.resourceUsage().maxRSS),
  }));
}

main().catch((error) => { console.error(`run_ort.js: ${error.message}`); process.exit(1); });
