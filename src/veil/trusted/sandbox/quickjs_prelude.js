// The JavaScript the QuickJS runtime evaluates before the tenant's handler.
//
// Part of the trusted runtime (its hash is in the runtime hash); it only
// builds plain JavaScript values: Request, Response, veil.variable, a console
// that writes into a buffer, and a Math.random reseeded per request from host entropy
// (without it every request would replay the snapshot's sequence). The three
// functions the host calls are the script's value, never stored on
// globalThis, so handler code cannot replace them.
//
// finish() returns: status byte (0 ok, 1 handler error, 2 out of memory,
// 3 promise never settled), u32 little-endian body length, body, logs.
// The upper-case placeholders are substituted by quickjs.py.
(() => {
  "use strict";
  const encode = (s) => {
    s = String(s);
    const out = [];
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
      }
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8Array(out);
  };
  const decode = (u) => {
    let s = "";
    for (let i = 0; i < u.length; i += 4096) s += String.fromCharCode.apply(null, u.subarray(i, i + 4096));
    try { return decodeURIComponent(escape(s)); } catch (e) { throw new TypeError("body is not valid UTF-8"); }
  };
  const toBytes = (v) => {
    if (v instanceof Response) return v.body;
    if (v instanceof Uint8Array) return v;
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (typeof v === "string") return encode(v);
    if (v === undefined || v === null) return new Uint8Array(0);
    return encode(JSON.stringify(v));
  };
  class Request {
    constructor(body) { this.body = body; }
    bytes() { return this.body; }
    text() { return decode(this.body); }
    json() { return JSON.parse(this.text()); }
  }
  class Response {
    constructor(body) { this.body = body === undefined ? new Uint8Array(0) : toBytes(body); }
    static json(value) { return new Response(JSON.stringify(value)); }
    static text(value) { return new Response(String(value)); }
  }
  let capture = false;
  let logs = [];
  let logSize = 0;
  const show = (v) => {
    if (typeof v === "string") return v;
    if (v instanceof Error) return String(v.stack || v);
    try { const j = JSON.stringify(v); return j === undefined ? String(v) : j; } catch (e) { return String(v); }
  };
  const log = (...args) => {
    if (!capture || logSize > LOG_LIMIT) return;
    const line = args.map(show).join(" ") + "\n";
    logs.push(line);
    logSize += line.length;
  };
  globalThis.console = Object.freeze({ log, info: log, warn: log, error: log, debug: log, trace: log });
  globalThis.Request = Request;
  globalThis.Response = Response;
  let s0 = 1, s1 = 2, s2 = 3, s3 = 4;
  Math.random = () => {
    const t = s1 << 9;
    let r = s1 * 5; r = ((r << 7) | (r >>> 25)) * 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
    return ((r >>> 0) * 2 ** 21 + ((s0 >>> 11) & 0x1fffff)) / 2 ** 53;
  };
  const isOom = (e) => e instanceof Error && e.name === "InternalError" && String(e.message).includes("out of memory");
  const describe = (e) => {
    if (e instanceof Error) return `${e.name}: ${e.message}\n${e.stack || ""}`;
    try { return "Uncaught " + show(e); } catch (x) { return "Uncaught exception"; }
  };
  // veil.variable(name): a secret or [config] value of this function (a string), or null.
  let vars = null, varsRaw = new Uint8Array(0);
  const variable = (name) => {
    if (vars === null) vars = JSON.parse(decode(varsRaw));
    name = String(name);
    return Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : null;
  };
  globalThis.veil = Object.freeze({ variable });
  let outcome = null;
  const start = (handle, input) => {
    const seed = new DataView(input.buffer, input.byteOffset, SEED_LEN + 4);
    s0 = seed.getInt32(0) | 1; s1 = seed.getInt32(4); s2 = seed.getInt32(8); s3 = seed.getInt32(12);
    const varsEnd = SEED_LEN + 4 + seed.getUint32(SEED_LEN, true);
    varsRaw = input.subarray(SEED_LEN + 4, varsEnd);
    vars = null;
    capture = CAPTURE_LOGS;
    outcome = null;
    const settle = (status, body) => { if (outcome === null) outcome = [status, body]; };
    const fail = (e) => settle(isOom(e) ? 2 : 1, isOom(e) ? new Uint8Array(0) : encode(describe(e)));
    try {
      const result = handle(new Request(input.subarray(varsEnd)));
      if (result !== null && typeof result === "object" && typeof result.then === "function") {
        Promise.resolve(result).then((v) => settle(0, toBytes(v)), fail);
      } else {
        settle(0, toBytes(result));
      }
    } catch (e) {
      fail(e);
    }
  };
  const finish = () => {
    let [status, body] = outcome === null ? [3, new Uint8Array(0)] : outcome;
    if (!(body instanceof Uint8Array)) { status = 1; body = encode("TypeError: handler result is not bytes"); }
    const tail = encode(logs.join("").slice(0, LOG_LIMIT));
    const out = new Uint8Array(5 + body.length + tail.length);
    out[0] = status;
    new DataView(out.buffer).setUint32(1, body.length, true);
    out.set(body, 5);
    out.set(tail, 5 + body.length);
    return out;
  };
  return [start, finish, describe];
})()
