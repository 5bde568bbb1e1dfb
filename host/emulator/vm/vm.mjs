// What host/emulator/vm/mpvm.mjs and host/emulator/vm/stream.mjs share: --file specs, byte sinks for the VM's output,
// and running one script in a fresh MicroPython WebAssembly VM with sys.argv set and its exit status.
import fs from "node:fs";
import path from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const pause = new Int32Array(new SharedArrayBuffer(4));

// Block for `ms` milliseconds (the VM's callbacks are synchronous).
export function sleepMs(ms) {
  Atomics.wait(pause, 0, 0, ms);
}

// "VM_PATH=HOST_PATH" (or just HOST_PATH: the VM gets its basename at the root) -> { vm, host }.
export function fileSpec(spec, usage) {
  if (!spec) usage("--file needs VM_PATH=HOST_PATH");
  const eq = spec.indexOf("=");
  const host = eq < 0 ? spec : spec.slice(eq + 1);
  let vm = eq < 0 ? path.basename(spec) : spec.slice(0, eq);
  if (!vm.startsWith("/")) vm = "/" + vm;
  return { vm, host };
}

function writeAll(fd, buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
      sleepMs(1); // fd is non-blocking and the reader is behind: wait for it
    }
  }
}

// The VM hands output over one byte per callback; `put` collects them (bytes go out unchanged), `flush`
// writes them in one go; with lineFlush also at every newline, and always when the buffer is full.
export function sink(fd, lineFlush) {
  const buf = Buffer.allocUnsafe(1 << 16);
  let n = 0;
  const flush = () => {
    if (n) writeAll(fd, buf.subarray(0, n));
    n = 0;
  };
  const put = (u8) => {
    buf[n++] = u8[0];
    if (n === buf.length || (lineFlush && u8[0] === 10)) flush();
  };
  return { put, flush };
}

const py = (v) => JSON.stringify(v); // a JSON string/list literal is also a valid Python literal
const VM_MAIN = "/tmp/__vm_main__.py";

function bootstrap(scriptName, args) {
  return `
import sys
sys.argv.clear()
sys.argv.extend(${py([scriptName, ...args])})
_vm_rc = 1
def _vm_run():
    global _vm_rc
    with open(${py(VM_MAIN)}) as f:
        src = f.read()
    code = compile(src, ${py(scriptName)}, "exec")
    src = None
    try:
        exec(code, {"__name__": "__main__", "__file__": ${py(scriptName)}})
        _vm_rc = 0
    except SystemExit as e:
        c = e.args[0] if e.args else None
        if c is None or isinstance(c, int):
            _vm_rc = c or 0
        else:
            print(c, file=sys.stderr)
            _vm_rc = 1
    except BaseException as e:
        sys.print_exception(e, sys.stderr)
        _vm_rc = 1
_vm_run()
`;
}

// Run `script` (host path) with `args` in a fresh VM, after copying `files` ([{ vm, host }]) into it.
// stdout, stderr: byte sinks (see sink); stdin: () => next byte or null. Returns the exit status: the
// script's (0, or its SystemExit code), 1 on an uncaught Python exception. `name` prefixes messages.
export async function runScript({ name, script, args, files, heap, pystack, stdout, stderr, stdin, usage }) {
  let src;
  try {
    src = fs.readFileSync(script);
  } catch (e) {
    usage(`cannot read script ${script}: ${e.message}`);
  }
  const mp = await loadMicroPython({
    heapsize: heap,
    ...(pystack ? { pystack } : {}),
    linebuffer: false,
    stdout: stdout.put,
    stderr: stderr.put,
    stdin,
  });
  try {
    for (const { vm, host } of files) {
      mp.FS.mkdirTree(path.posix.dirname(vm));
      mp.FS.writeFile(vm, fs.readFileSync(host));
    }
    mp.FS.writeFile(VM_MAIN, src);
  } catch (e) {
    usage(`--file: ${e.message}`);
  }
  let rc;
  try {
    mp.runPython(bootstrap(script, args));
    rc = mp.globals.get("_vm_rc");
  } catch (e) {
    // only reached if the bootstrap itself fails (e.g. heap still locked)
    stdout.flush();
    stderr.flush();
    process.stderr.write(`${name}: ${e.name === "PythonError" ? e.message : e.stack}\n`);
    rc = 1;
  }
  stdout.flush();
  stderr.flush();
  return Number.isInteger(rc) ? rc & 0xff : 1;
}
