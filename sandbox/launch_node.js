// The preload of every JavaScript run (`node --require launch_node.js prog.js`).
//
// It counts work with V8's precise coverage (call and block counts, summed over
// the candidate's own scripts at exit: deterministic, unlike --cpu-prof's
// samples), reports reflection (Function.prototype.toString) and any reach for
// the instruments (inspector, v8), and writes the keyed records of the audit
// protocol on fd 3: `E name args` per event, `T why` per tampering found, and
// one final `F key work records` at exit. Everything it holds lives in this
// closure; what a candidate can still do to it is evidence, never the wall
// (the supervisor measures CPU time and file opens from outside).
"use strict";
(function quineboxLauncher() {
  const fs = require("fs");
  const inspector = require("inspector");
  const Module = require("module");
  const launcher = __filename;
  const chunks = [];
  const buffer = Buffer.alloc(256);
  for (let n; (n = fs.readSync(4, buffer, 0, buffer.length, null)) > 0; ) chunks.push(Buffer.from(buffer.subarray(0, n)));
  fs.closeSync(4);
  const key = Buffer.concat(chunks).toString("ascii").trim();
  let records = 0;
  // Taken now: a candidate that replaces fs.writeSync or Buffer.from later cannot rewrite the records.
  const writeSync = fs.writeSync;
  const bufferFrom = Buffer.from.bind(Buffer);
  const hex = (text) => bufferFrom(String(text).slice(0, 500), "utf8").toString("hex");
  const write = (line) => {
    try {
      writeSync(3, line + "\n");
    } catch {
      // fd 3 cannot be closed or replaced (the seccomp filter); a failed write shows as a missing record.
    }
  };
  const event = (name, args) => {
    records += 1;
    write(`E ${hex(name)} ${hex(args)}`);
  };
  const tamper = (why) => {
    records += 1;
    write(`T ${hex(why)}`);
  };

  const session = new inspector.Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.startPreciseCoverage", { callCount: true, detailed: true });

  const toString = Function.prototype.toString;
  Object.defineProperty(Function.prototype, "toString", {
    value: function toString_() {
      const name = typeof this === "function" && this.name ? this.name : "anonymous";
      event("reflection.Function.toString", name);
      return toString.call(this);
    },
    writable: true,
    configurable: true,
  });
  Object.defineProperty(Function.prototype.toString, "name", { value: "toString" });

  const watched = new Set(["inspector", "v8", "node:inspector", "node:v8", "inspector/promises", "node:inspector/promises"]);
  const load = Module._load;
  Module._load = function _load(request, ...rest) {
    if (watched.has(String(request))) tamper(`required ${request}`);
    return load.call(this, request, ...rest);
  };
  const binding = process.binding;
  process.binding = function binding_(name) {
    tamper(`process.binding(${name})`);
    return binding.call(this, name);
  };

  process.on("exit", () => {
    let work = 0;
    let taken = false;
    try {
      session.post("Profiler.takePreciseCoverage", (error, coverage) => {
        if (error || !coverage) return;
        taken = true;
        for (const script of coverage.result) {
          if (script.url === launcher || script.url.startsWith("node:") || script.url === "") continue;
          for (const fn of script.functions) for (const range of fn.ranges) work += range.count;
        }
      });
    } catch (error) {
      tamper(`the coverage session failed: ${error}`);
    }
    if (!taken) tamper("the work count could not be read (coverage stopped or taken)");
    if (Function.prototype.toString.name !== "toString") tamper("Function.prototype.toString was replaced");
    write(`F ${key} ${work} ${records}`);
  });
})();
