#!/usr/bin/env node
// Run a MicroPython script in the MicroPython WebAssembly VM (see README.md).
//
//   node host/emulator/vm/mpvm.mjs [--heap BYTES] [--pystack WORDS] [--file VM_PATH=HOST_PATH ...] SCRIPT.py [ARGS...]
//
// Exit status: the script's (0, or its SystemExit code), 1 on an uncaught
// Python exception (traceback on stderr), 2 on a usage error.
import fs from "node:fs";
import { fileSpec, runScript, sink, sleepMs } from "./vm.mjs";

const USAGE =
  "usage: node host/emulator/vm/mpvm.mjs [--heap BYTES] [--pystack WORDS] " +
  "[--file VM_PATH=HOST_PATH ...] SCRIPT.py [ARGS...]";

function usage(msg) {
  process.stderr.write(`mpvm: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parseSize(s, opt) {
  const m = /^(\d+)([kKmM]?)$/.exec(s ?? "");
  if (!m) usage(`${opt} needs a positive integer (optional k/M suffix), got ${JSON.stringify(s)}`);
  return Number(m[1]) * { "": 1, k: 1024, m: 1048576 }[m[2].toLowerCase()];
}

function parseArgs(argv) {
  const opts = { heap: 8 * 1048576, pystack: 8192, files: [], script: null, args: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--heap") opts.heap = parseSize(argv[++i], a);
    else if (a === "--pystack") opts.pystack = parseSize(argv[++i], a);
    else if (a === "--file") opts.files.push(fileSpec(argv[++i], usage));
    else if (a === "-h" || a === "--help") {
      process.stdout.write(USAGE + "\n");
      process.exit(0);
    } else if (a === "--") {
      i++;
      break;
    } else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else break;
  }
  if (i >= argv.length) usage("no script given");
  opts.script = argv[i];
  opts.args = argv.slice(i + 1);
  return opts;
}

// Python's sys.stdin reads this process's stdin lazily, in 64 KiB chunks.
function byteSource(fd) {
  const buf = Buffer.allocUnsafe(1 << 16);
  let pos = 0;
  let len = 0;
  let eof = false;
  return () => {
    while (pos === len) {
      if (eof) return null;
      try {
        len = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if (e.code === "EAGAIN") {
          sleepMs(1);
          continue;
        }
        if (e.code !== "EOF" && e.code !== "EBADF") throw e;
        len = 0;
      }
      pos = 0;
      if (len === 0) eof = true;
    }
    return buf[pos++];
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const rc = await runScript({
    name: "mpvm", ...opts, stdout: sink(1, true), stderr: sink(2, true), stdin: byteSource(0), usage,
  });
  process.exit(rc);
}

main();
