// Test function: each request body names one behaviour the sandbox must contain.
const seen = [];

export async function handle(request) {
  const command = request.text();
  if (command.startsWith("remember:")) {
    seen.push(command);
    return Response.json(seen);
  }
  if (command.startsWith("variable:")) return Response.json(veil.variable(command.slice(9)));
  if (command === "loop") { for (;;) {} }
  if (command === "bomb") {
    const hog = [];
    for (;;) hog.push(new Array(1 << 16).fill(command));
  }
  if (command === "raise") throw new TypeError("tenant bug");
  if (command === "async") {
    const a = await new Promise((resolve) => resolve(20));
    const b = await Promise.resolve(22);
    return Response.json({ answer: a + b });
  }
  if (command === "reject") { await null; throw new RangeError("async tenant bug"); }
  if (command === "never") return new Promise(() => {});
  if (command === "capabilities") {
    const names = ["std", "os", "fetch", "require", "process", "XMLHttpRequest", "WebSocket", "setTimeout"];
    return Response.json(Object.fromEntries(names.map((n) => [n, typeof globalThis[n]])));
  }
  if (command === "import") {
    try { await import("qjs:std"); return "imported"; } catch (e) { return `refused: ${e.name}`; }
  }
  if (command === "random") return Response.json([Math.random(), Math.random()]);
  if (command === "print") { console.log("to console", { n: 1 }); console.error("oops"); return "printed"; }
  return "unknown command";
}
