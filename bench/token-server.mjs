// A tiny OAuth 2.0 token endpoint for the benchmarks, run as a child process of bench/run.ts (so that,
// like a real token endpoint, it has its own event loop, CPU and file descriptors). It answers
// `client_credentials` with `{ access_token, token_type: "Bearer", expires_in: 3600 }` and counts the
// requests it receives. Driven over the IPC channel (see bench/server.ts); exits when the parent goes.
import * as Http from "node:http"

const clientId = process.env.BENCH_CLIENT_ID ?? ""
const clientSecret = process.env.BENCH_CLIENT_SECRET ?? ""
const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`

let requests = 0
let rejected = 0
let issued = 0

const server = Http.createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(405).end()
    return
  }
  requests++
  const chunks = []
  req.on("data", (chunk) => chunks.push(chunk))
  req.on("end", () => {
    const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"))
    if (form.get("grant_type") !== "client_credentials") {
      rejected++
      res.writeHead(400, { "content-type": "application/json" }).end(
        JSON.stringify({ error: "unsupported_grant_type" })
      )
      return
    }
    if (req.headers.authorization !== expected) {
      rejected++
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid_client" }))
      return
    }
    issued++
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(
      JSON.stringify({ access_token: `bench-token-${issued}`, token_type: "Bearer", expires_in: 3600 })
    )
  })
})

process.on("message", (message) => {
  switch (message.type) {
    case "count":
      process.send({ type: "reply", id: message.id, requests, rejected })
      break
    case "closeIdle":
      server.closeIdleConnections()
      process.send({ type: "reply", id: message.id })
      break
    case "closeAll":
      server.closeAllConnections()
      process.send({ type: "reply", id: message.id })
      break
    case "close":
      server.closeAllConnections()
      server.close(() => process.exit(0))
      break
  }
})
process.on("disconnect", () => process.exit(0))

server.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, () => {
  process.send({ type: "listening", port: server.address().port })
})
