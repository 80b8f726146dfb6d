// hdr_interop.mjs HIST_TOOL: surge's histograms against a real HdrHistogram implementation.
//
// 1. surge -> JS: hist_tool writes an interval log (.hlog) of known histograms and a JSON
//    of what surge knows about them; hdr-histogram-js's HistogramLogReader reads the log
//    with 64-bit and with packed counts, and every decoded count, percentile, the max,
//    the mean, the start time and the interval length must equal surge's.
// 2. JS -> surge: JS records histograms (its default auto-resizing 32-bit one, fixed
//    layouts at digits 1..5, a coarse unit, packed, empty, huge counts), encodes them with
//    encodeIntoCompressedBase64 and writes a log with HistogramLogWriter; hist_tool decodes
//    both and every count and percentile must equal what JS computes itself.
// Decoded counts are compared, never bytes: deflate output differs between zlib builds.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hdr from "hdr-histogram-js";

const { build, encodeIntoCompressedBase64, HistogramLogReader, HistogramLogWriter } = hdr;
const tool = process.argv[2];
if (!tool) {
  console.error("usage: node hdr_interop.mjs HIST_TOOL");
  process.exit(2);
}

let failures = 0;
let checks = 0;
function check(ok, what) {
  checks++;
  if (!ok) {
    failures++;
    if (failures <= 40) console.error(`FAIL ${what}`);
  }
}
const near = (a, b, rel) => Math.abs(a - b) <= Math.abs(b) * rel + 1e-6;

function run(args, input) {
  const r = spawnSync(tool, args, { input, encoding: "utf8", maxBuffer: 256 << 20 });
  if (r.error) throw r.error;
  return r;
}

// Every non-empty counter of a JS histogram, as [lowest value of its bucket, count].
function jsBuckets(h) {
  const out = [];
  for (let i = 0; i < h.countsArrayLength; i++) {
    const c = h.getCountAtIndex(i);
    if (c > 0) out.push([h.valueFromIndex(i), c]);
  }
  return out;
}

// The highest value of the top non-empty bucket. (JS's own maxValue adds the unit mask
// instead of OR-ing it as Java does, so for lowest > 1 it over-reports by up to a unit.)
function jsMax(h) {
  const b = jsBuckets(h);
  return b.length ? h.highestEquivalentValue(b[b.length - 1][0]) : 0;
}

function sameBuckets(a, b) {
  if (a.length !== b.length) return false;
  return a.every((x, i) => x[0] === b[i][0] && x[1] === b[i][1]);
}

// ---- 1. surge writes, JS reads --------------------------------------------------------

function surgeToJs(dir) {
  const log = join(dir, "surge.hlog");
  const json = join(dir, "surge.json");
  const r = run(["write-log", log, json, "42"]);
  check(r.status === 0, `hist_tool write-log exited ${r.status}: ${r.stderr}`);
  const expected = JSON.parse(readFileSync(json, "utf8"));
  const content = readFileSync(log, "utf8");

  for (const bucketSize of [64, "packed"]) {
    const reader = new HistogramLogReader(content, bucketSize);
    for (const want of expected.histograms) {
      const h = reader.nextIntervalHistogram();
      const where = `surge->js [${bucketSize}] ${want.tag}`;
      check(h !== null, `${where}: interval missing`);
      if (!h) continue;
      check(h.tag === want.tag, `${where}: tag ${h.tag}`);
      // Column 2 is the interval's length: JS computes the end from it.
      const startMs = (expected.start_time_s + want.start_s) * 1000;
      check(Math.abs(h.startTimeStampMsec - startMs) < 1, `${where}: start ${h.startTimeStampMsec} != ${startMs}`);
      const lengthMs = h.endTimeStampMsec - h.startTimeStampMsec;
      check(Math.abs(lengthMs - want.length_s * 1000) < 1, `${where}: length ${lengthMs} ms != ${want.length_s} s`);
      check(h.lowestDiscernibleValue === want.lowest, `${where}: lowest ${h.lowestDiscernibleValue}`);
      check(h.highestTrackableValue === want.highest, `${where}: highest ${h.highestTrackableValue}`);
      check(h.numberOfSignificantValueDigits === want.digits, `${where}: digits`);
      check(h.totalCount === want.total, `${where}: total ${h.totalCount} != ${want.total}`);
      check(sameBuckets(jsBuckets(h), want.buckets), `${where}: buckets differ`);
      for (const [p, v] of want.percentiles) {
        const got = h.getValueAtPercentile(p);
        check(got === v, `${where}: p${p} js ${got} surge ${v}`);
      }
      if (want.total > 0) {
        check(jsMax(h) === want.max, `${where}: max js ${jsMax(h)} surge ${want.max}`);
        check(near(h.mean, want.mean, 1e-6), `${where}: mean js ${h.mean} surge ${want.mean}`);
        check(near(h.stdDeviation, want.stddev, 1e-6), `${where}: stddev js ${h.stdDeviation} surge ${want.stddev}`);
      }
    }
    check(reader.nextIntervalHistogram() === null, `surge->js [${bucketSize}]: extra intervals`);
  }
  return expected.histograms.length;
}

// ---- 2. JS writes, surge reads --------------------------------------------------------

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function jsFixtures() {
  const rnd = mulberry32(7);
  const lognormal = (median, sigma) => {
    const u = rnd() || 1e-12;
    const v = rnd();
    return Math.floor(median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)));
  };
  const cases = [];
  const add = (name, request, fill) => {
    const h = build(request);
    fill(h);
    h.tag = name;
    cases.push({ name, h });
  };
  const fixed = (digits, bitBucketSize = 64) => ({
    bitBucketSize,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3600000000,
    numberOfSignificantValueDigits: digits,
    autoResize: false,
  });
  add("js-default", undefined, (h) => {
    for (let i = 0; i < 3000; i++) h.recordValue(lognormal(450000, 0.7));
  });
  for (let d = 1; d <= 5; d++) {
    add(`js-digits-${d}`, fixed(d), (h) => {
      for (let i = 0; i < 4000; i++) h.recordValue(Math.min(3600000000, lognormal(20000, 1.5)));
    });
  }
  add("js-packed", fixed(3, "packed"), (h) => {
    for (let i = 0; i < 2000; i++) h.recordValue(lognormal(900000, 0.3));
  });
  add("js-coarse", { bitBucketSize: 64, lowestDiscernibleValue: 1000, highestTrackableValue: 1e10, numberOfSignificantValueDigits: 2, autoResize: false }, (h) => {
    for (let i = 0; i < 2000; i++) h.recordValue(1000 + lognormal(5e6, 1.0));
  });
  add("js-empty", fixed(3), () => {});
  add("js-zeros", fixed(3), (h) => {
    for (let i = 0; i < 300; i++) h.recordValue(i % 3 === 0 ? 0 : i);
  });
  add("js-huge-counts", fixed(3), (h) => {
    for (let i = 0; i < 40; i++) h.recordValueWithCount(lognormal(1000, 1.0), 2 ** 40);
  });
  return cases;
}

function describeJs(h) {
  return {
    lowest: h.lowestDiscernibleValue,
    highest: h.highestTrackableValue,
    digits: h.numberOfSignificantValueDigits,
    total: h.totalCount,
    buckets: jsBuckets(h),
  };
}

const PERCENTILES = [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100];

function compareDecoded(where, h, got) {
  if (got.error) {
    check(false, `${where}: surge refused it: ${got.error}`);
    return;
  }
  const want = describeJs(h);
  check(got.lowest === want.lowest, `${where}: lowest ${got.lowest} != ${want.lowest}`);
  check(got.highest === want.highest, `${where}: highest ${got.highest} != ${want.highest}`);
  check(got.digits === want.digits, `${where}: digits`);
  check(got.total === want.total, `${where}: total ${got.total} != ${want.total}`);
  check(sameBuckets(got.buckets, want.buckets), `${where}: buckets differ`);
  const surgeP = new Map(got.percentiles.map(([p, v]) => [p, v]));
  for (const p of PERCENTILES) {
    const jsValue = h.getValueAtPercentile(p);
    check(surgeP.get(p) === jsValue, `${where}: p${p} surge ${surgeP.get(p)} js ${jsValue}`);
  }
  if (want.total > 0) {
    check(got.max === jsMax(h), `${where}: max surge ${got.max} js ${jsMax(h)}`);
    check(near(got.mean, h.mean, 1e-6), `${where}: mean surge ${got.mean} js ${h.mean}`);
  }
}

function jsToSurge(dir) {
  const cases = jsFixtures();
  // Straight V2 base64, one per line.
  const lines = cases.map((c) => encodeIntoCompressedBase64(c.h)).join("\n") + "\n";
  const r = run(["decode"], lines);
  check(r.status === 0, `hist_tool decode exited ${r.status}: ${r.stdout.slice(0, 400)}`);
  const decoded = JSON.parse(r.stdout);
  check(decoded.length === cases.length, `js->surge: ${decoded.length} decoded of ${cases.length}`);
  cases.forEach((c, i) => compareDecoded(`js->surge ${c.name}`, c.h, decoded[i] || { error: "missing" }));

  // A log written by JS's HistogramLogWriter, parsed line by line by surge.
  let text = "";
  const writer = new HistogramLogWriter((s) => (text += s));
  writer.outputLogFormatVersion();
  writer.outputStartTime(1700000000123);
  writer.outputLegend();
  cases.forEach((c, i) => writer.outputIntervalHistogram(c.h, i * 10, i * 10 + 0.5 + i, 1000));
  const log = join(dir, "js.hlog");
  writeFileSync(log, text);
  const p = run(["parse-log", log]);
  check(p.status === 0, `hist_tool parse-log exited ${p.status}: ${p.stderr}`);
  const parsed = JSON.parse(p.stdout);
  check(parsed.length === cases.length, `js log->surge: ${parsed.length} intervals of ${cases.length}`);
  cases.forEach((c, i) => {
    const got = parsed[i] || { error: "missing" };
    const where = `js log->surge ${c.name}`;
    check(got.tag === c.name, `${where}: tag ${got.tag}`);
    check(got.start_s === i * 10, `${where}: start ${got.start_s}`);
    check(near(got.length_s, 0.5 + i, 1e-9), `${where}: length ${got.length_s}`);
    compareDecoded(where, c.h, got);
  });
  return cases.length;
}

const dir = mkdtempSync(join(tmpdir(), "surge-hdr-interop-"));
try {
  const a = surgeToJs(dir);
  const b = jsToSurge(dir);
  console.log(`hdr-histogram-js interop: ${a} surge histograms read by JS (64-bit and packed), ` +
    `${b} JS histograms read by surge (V2 and log lines); ${checks} checks, ${failures} failed`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
