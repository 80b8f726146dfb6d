// bench_histogram_js.mjs SECONDS: the reference for bench_histogram, measured in the same run:
// the same operations on hdr-histogram-js (the HdrHistogram port the interop test checks
// surge against), same layout (1 us .. 1 h, 3 digits), same "typical snapshot" (1,000 values
// log-uniform over 1 ms .. 10 s). Prints "name ns_per_op" lines for bench_histogram.sh.
// Needs tests/js/node_modules (scripts/test.sh installs it: cd tests/js && npm ci).
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../tests/js/package.json"));
const hdr = require("hdr-histogram-js");

const seconds = Number(process.argv[2] || "1");
const layout = { lowestDiscernibleValue: 1, highestTrackableValue: 3600000000, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly: false };

let state = 0x9e3779b97f4a7c15n;
function rngUnit() {
  // splitmix64, as bench_histogram.c, so both sides record the same kind of values
  state = (state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  let z = state;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
  z = z ^ (z >> 31n);
  return Number(z >> 11n) / 9007199254740992;
}
const logUniform = (lo, hi) => Math.floor(lo * Math.exp(rngUnit() * Math.log(hi / lo)));

function measure(name, opsPerBatch, batch) {
  const t0 = process.hrtime.bigint();
  let t = t0, ops = 0;
  while (Number(t - t0) < seconds * 1e9) {
    batch();
    ops += opsPerBatch;
    t = process.hrtime.bigint();
  }
  console.log(`${name} ${(Number(t - t0) / ops).toFixed(1)}`);
}

function typicalSnapshot() {
  const h = hdr.build(layout);
  for (let i = 0; i < 1000; i++) h.recordValue(logUniform(1e3, 1e7));
  return h;
}

// record: values drawn beforehand (64 Ki distinct), as the C side does
const values = Array.from({ length: 65536 }, () => logUniform(1, 3.6e9));
const rec = hdr.build(layout);
measure("record", values.length, () => { for (const v of values) rec.recordValue(v); });

const snaps = Array.from({ length: 64 }, typicalSnapshot);
let acc = hdr.build(layout);
measure("merge", snaps.length, () => { for (const s of snaps) acc.add(s); });

const snap = typicalSnapshot();
let encoded = "";
measure("encode", 1, () => { encoded = hdr.encodeIntoCompressedBase64(snap); });
measure("decode", 1, () => { hdr.decodeFromCompressedBase64(encoded, 64, false).destroy(); });
measure("percentile", 4, () => { for (const p of [50, 90, 99, 99.9]) snap.getValueAtPercentile(p); });
