#!/usr/bin/env node
// Run a MicroPython script in the MicroPython WebAssembly VM (see README.md).
//
//   node emulator/mpvm.mjs [--heap BYTES] [--pystack WORDS] [--file VM_PATH=HOST_PATH ...] SCRIPT.py [ARGS...]
//
// Exit status: the script's (0, or its SystemExit code), 1 on an uncaught
// Python exception (traceback on stderr), 2 on a usage error.
import fs from "node:fs";
import path from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const USAGE =
  "usage: node emulator/mpvm.mjs [--heap BYTES] [--pystack WORDS] " +
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
    else if (a === "--file") {
      const spec = argv[++i];
      if (!spec) usage("--file needs VM_PATH=HOST_PATH");
      const eq = spec.indexOf("=");
      const host = eq < 0 ? spec : spec.slice(eq + 1);
      let vm = eq < 0 ? path.basename(spec) : spec.slice(0, eq);
      if (!vm.startsWith("/")) vm = "/" + vm;
      opts.files.push({ vm, host });
    } else if (a === "-h" || a === "--help") {
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

function writeAll(fd, buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); // fd is non-blocking: back off 1 ms
    }
  }
}

// The VM hands output over one byte per callback; collect bytes and write them
// at each newline or when the buffer is full (bytes go out unchanged).
function byteSink(fd) {
  const buf = Buffer.allocUnsafe(1 << 16);
  let n = 0;
  const flush = () => {
    if (n) writeAll(fd, buf.subarray(0, n));
    n = 0;
  };
  const put = (u8) => {
    const c = u8[0];
    buf[n++] = c;
    if (c === 10 || n === buf.length) flush();
  };
  return { put, flush };
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
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
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

const py = (v) => JSON.stringify(v); // a JSON string/list literal is also a valid Python literal
const VM_MAIN = "/tmp/__mpvm_main__.py";

function bootstrap(scriptName, args) {
  return `
import sys
sys.argv.clear()
sys.argv.extend(${py([scriptName, ...args])})
_mpvm_rc = 1
def _mpvm_run():
    global _mpvm_rc
    with open(${py(VM_MAIN)}) as f:
        src = f.read()
    code = compile(src, ${py(scriptName)}, "exec")
    src = None
    try:
        exec(code, {"__name__": "__main__", "__file__": ${py(scriptName)}})
        _mpvm_rc = 0
    except SystemExit as e:
        c = e.args[0] if e.args else None
        if c is None or isinstance(c, int):
            _mpvm_rc = c or 0
        else:
            print(c, file=sys.stderr)
            _mpvm_rc = 1
    except BaseException as e:
        sys.print_exception(e, sys.stderr)
        _mpvm_rc = 1
_mpvm_run()
`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let src;
  try {
    src = fs.readFileSync(opts.script);
  } catch (e) {
    usage(`cannot read script ${opts.script}: ${e.message}`);
  }

  const out = byteSink(1);
  const err = byteSink(2);
  const mp = await loadMicroPython({
    heapsize: opts.heap,
    pystack: opts.pystack,
    linebuffer: false,
    stdout: out.put,
    stderr: err.put,
    stdin: byteSource(0),
  });

  try {
    for (const { vm, host } of opts.files) {
      mp.FS.mkdirTree(path.posix.dirname(vm));
      mp.FS.writeFile(vm, fs.readFileSync(host));
    }
    mp.FS.writeFile(VM_MAIN, src);
  } catch (e) {
    usage(`--file: ${e.message}`);
  }

  let rc;
  try {
    mp.runPython(bootstrap(opts.script, opts.args));
    rc = mp.globals.get("_mpvm_rc");
  } catch (e) {
    // Only reached if the bootstrap itself fails (e.g. heap still locked).
    out.flush();
    err.flush();
    process.stderr.write(`mpvm: ${e.name === "PythonError" ? e.message : e.stack}\n`);
    rc = 1;
  }
  out.flush();
  err.flush();
  process.exit(Number.isInteger(rc) ? rc & 0xff : 1);
}

main();
