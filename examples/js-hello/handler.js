// A Veil function in JavaScript: greets the caller, echoes JSON.
// `Request` and `Response` are globals; `handle` may be async.
const GREETING = "hello";

export async function handle(request) {
  const text = request.text();
  if (text.startsWith("{")) {
    const payload = request.json();
    console.log("json request with keys", Object.keys(payload).sort());
    return Response.json({ greeting: GREETING, echo: payload });
  }
  const name = text || "world";
  console.log("greeting", name);
  return Response.text(`${GREETING}, ${name}!`);
}
