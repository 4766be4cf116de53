// An HTTP receiver built on the CloudEvents JavaScript SDK (npm "cloudevents"), for cectl's
// interoperability test. Each request is parsed with HTTP.toEvent and validated with the SDK's
// own validate(); the receiver answers 202 and prints one JSON line with what the SDK parsed
// ({"events":[...]}), or answers 400 and prints {"error":"..."}. The first line printed is
// {"port":N}, the port it listens on (argument 1, 0 picks a free one).
"use strict";
const http = require("http");
const { HTTP } = require("cloudevents");

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let line;
    try {
      const parsed = HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const events = Array.isArray(parsed) ? parsed : [parsed];
      events.forEach((e) => e.validate());
      line = { contentType: req.headers["content-type"] || "", events: events.map((e) => e.toJSON()) };
      res.writeHead(202);
    } catch (err) {
      const detail = err && err.errors ? " " + JSON.stringify(err.errors) : "";
      line = { contentType: req.headers["content-type"] || "", error: String(err && err.message ? err.message : err) + detail };
      res.writeHead(400, { "Content-Type": "text/plain" });
      res.write(line.error);
    }
    process.stdout.write(JSON.stringify(line) + "\n");
    res.end();
  });
});

server.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
