#!/usr/bin/env node
// Run the generated board loop (stream.py) in the MicroPython WebAssembly VM as an emulated board.
//
//   node host/emulator/vm/stream.mjs --samples FILE [--rate HZ] [--t0 MS] [--index0 N] [--timing FILE]
//        [--heap BYTES] [--file VM_PATH=HOST_PATH ...] SCRIPT.py [ARGS...]
//
// The "ADC": the script's sys.stdin serves FILE (int32 little-endian inputs). With --rate, input k
// (sample index index0 + k) is handed over no earlier than t0 + (index0 + k) * 1000 / rate ms
// (t0: Unix epoch in ms; by default the first input is due when the script first reads); without --rate, as
// fast as the script reads.
// The "UART": the script's sys.stdout bytes, unchanged, written to this process's stdout. They are
// passed on whenever the script asks for its next input (so each frame leaves as soon as it is
// written) and at exit; a full pipe blocks the VM, so a slow reader slows the board down.
// --timing FILE: at exit, float64 little-endian Unix times (s) at which each input was handed over.
// Exit status as host/emulator/vm/mpvm.mjs: the script's, 1 on an uncaught Python exception, 2 on a usage error.
import fs from "node:fs";
import { fileSpec, runScript, sink, sleepMs } from "./vm.mjs";

const USAGE =
  "usage: node host/emulator/vm/stream.mjs --samples FILE [--rate HZ] [--t0 MS] [--index0 N] [--timing FILE] " +
  "[--heap BYTES] [--file VM_PATH=HOST_PATH ...] SCRIPT.py [ARGS...]";

function usage(msg) {
  process.stderr.write(`stream: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function number(s, opt) {
  const v = Number(s);
  if (s === undefined || !Number.isFinite(v) || v < 0) usage(`${opt} needs a non-negative number, got ${JSON.stringify(s)}`);
  return v;
}

function parseArgs(argv) {
  const o = { samples: null, rate: 0, t0: null, index0: 0, timing: null, heap: 8 * 1048576, files: [], script: null, args: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--samples") o.samples = argv[++i];
    else if (a === "--rate") o.rate = number(argv[++i], a);
    else if (a === "--t0") o.t0 = number(argv[++i], a);
    else if (a === "--index0") o.index0 = number(argv[++i], a);
    else if (a === "--timing") o.timing = argv[++i];
    else if (a === "--heap") o.heap = number(argv[++i], a);
    else if (a === "--file") o.files.push(fileSpec(argv[++i], usage));
    else if (a === "-h" || a === "--help") {
      process.stdout.write(USAGE + "\n");
      process.exit(0);
    } else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else break;
  }
  if (i >= argv.length) usage("no script given");
  if (!o.samples) usage("--samples FILE is required");
  o.script = argv[i];
  o.args = argv.slice(i + 1);
  return o;
}

const nowMs = () => performance.timeOrigin + performance.now();

function sleepUntil(t) {
  for (;;) {
    const d = t - nowMs();
    if (d <= 0) return;
    sleepMs(d);
  }
}

// The ADC: inputs from the samples file, paced; the UART is flushed before each input is waited for.
function adc(data, o, uart, times) {
  let pos = 0;
  let t0 = o.t0; // default: the first input is due when the script first asks for it
  return () => {
    if (pos % 4 === 0) {
      uart.flush();
      if (pos >= data.length) return null;
      if (o.rate > 0) {
        t0 ??= nowMs() - (o.index0 * 1000) / o.rate;
        sleepUntil(t0 + ((o.index0 + pos / 4) * 1000) / o.rate);
      }
    }
    const b = data[pos++];
    if (pos % 4 === 0) times[pos / 4 - 1] = nowMs() / 1000;
    return b;
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  let data;
  try {
    data = fs.readFileSync(o.samples);
  } catch (e) {
    usage(e.message);
  }
  if (data.length % 4) usage(`${o.samples}: ${data.length} bytes is not a whole number of int32 inputs`);
  const times = new Float64Array(data.length / 4).fill(NaN);
  const uart = sink(1, false);
  const rc = await runScript({
    name: "stream", ...o, stdout: uart, stderr: sink(2, true), stdin: adc(data, o, uart, times), usage,
  });
  if (o.timing) fs.writeFileSync(o.timing, Buffer.from(times.buffer));
  process.exit(rc);
}

main();
