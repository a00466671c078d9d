/**
 * Section 8: memory while refusing hostile token responses. A token endpoint of the bench's own on
 * 127.0.0.1 streams a 200 MB body (and, for `FetchHttpClient`, a gzip bomb inflating to 1 GB); the
 * figure is the highest RSS seen while the request is refused, above the RSS just before it (sampled
 * every 5 ms). Target: under 50 MB (the bound; before the bound it was about 600 MB).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Zlib from "node:zlib"
import { Grant } from "tokenlayer"
import { collectGarbage, fmt } from "./stats.js"

const TARGET_MB = 50
const BODY_BYTES = 200 * 1024 * 1024

type Status = "PASS" | "MISSED"

/** Writes `total` bytes of spaces in 64 KiB chunks, with back-pressure, until done or the socket closes. */
const pump = (sink: NodeJS.WritableStream & { destroyed?: boolean }, total: number, end: () => void) => {
  const chunk = Buffer.alloc(64 * 1024, 0x20)
  let sent = 0
  const go = () => {
    while (sent < total && sink.destroyed !== true) {
      sent += chunk.length
      if (!sink.write(chunk)) return void sink.once("drain", go)
    }
    end()
  }
  go()
}

const server = (gzip: boolean): Promise<{ url: string; close: () => Promise<void> }> =>
  new Promise((resolve) => {
    const s = Http.createServer((req, res) => {
      req.resume()
      res.writeHead(200, { "content-type": "application/json", ...(gzip ? { "content-encoding": "gzip" } : {}) })
      if (gzip) {
        const z = Zlib.createGzip({ level: 9 })
        z.pipe(res)
        res.on("close", () => z.destroy())
        pump(z, 1024 * 1024 * 1024, () => z.end())
      } else {
        res.write("{\"access_token\":\"")
        pump(res, BODY_BYTES, () => res.end())
      }
    })
    s.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(s.address() as Net.AddressInfo).port}/token`,
        close: () =>
          new Promise<void>((done) => {
            s.closeAllConnections()
            s.close(() => done())
          })
      }))
  })

const peakWhile = async (run: () => Promise<unknown>): Promise<number> => {
  collectGarbage()
  const baseline = process.memoryUsage().rss
  let peak = baseline
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 5)
  try {
    await run()
  } finally {
    clearInterval(timer)
  }
  peak = Math.max(peak, process.memoryUsage().rss)
  return (peak - baseline) / (1024 * 1024)
}

const refuse = (url: string, client: Layer.Layer<HttpClient.HttpClient>) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const http = yield* HttpClient.HttpClient
      const grant = Grant.makeClientCredentials(
        { tokenUrl: url, clientId: "bench", clientSecret: Redacted.make("bench-secret") },
        http
      )
      const exit = yield* Effect.exit(grant.request(Option.none()))
      if (Exit.isSuccess(exit)) throw new Error("a 200 MB token response was accepted")
    }).pipe(Effect.provide(client))
  )

export interface MemoryResult {
  readonly rows: ReadonlyArray<{ measure: string; figure: string; target: string; status: Status }>
}

export const runMemoryBench = async (options: { readonly log: (line: string) => void }): Promise<MemoryResult> => {
  options.log("8. memory while refusing hostile token responses")
  const cases = [
    ["200 MB token response, NodeHttpClient.layerUndici", false, NodeHttpClient.layerUndici],
    ["200 MB token response, FetchHttpClient", false, FetchHttpClient.layer],
    ["gzip bomb (1 GB inflated), FetchHttpClient", true, FetchHttpClient.layer]
  ] as const
  const rows: Array<MemoryResult["rows"][number]> = []
  for (const [name, gzip, client] of cases) {
    const s = await server(gzip)
    try {
      const mb = await peakWhile(() => refuse(s.url, client))
      options.log(`   ${name}: peak RSS +${fmt(mb, 1)} MB`)
      rows.push({
        measure: `8. peak RSS above baseline: ${name}`,
        figure: `${fmt(mb, 1)} MB`,
        target: `< ${TARGET_MB} MB`,
        status: mb < TARGET_MB ? "PASS" : "MISSED"
      })
    } finally {
      await s.close()
    }
  }
  return { rows }
}
