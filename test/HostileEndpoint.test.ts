/**
 * A token endpoint controlled by an attacker, written here with `node:http` on 127.0.0.1: oversized and
 * decompression-bomb bodies, JSON nested 100,000 levels deep, token types and tokens with control
 * characters, redirects to another origin, and secrets in the token URL. Each must end in a typed
 * `HttpError` (or a key without the secret), never in unbounded memory, a defect, or a token cached.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Cause, DateTime, Effect, Exit, Fiber, Layer, Option, Redacted, TestClock } from "effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as http from "node:http"
import type * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenManager, TokenService, TokenStore } from "tokenlayer"
import { TokenError } from "tokenlayer"
import { captureLogs } from "./support/logs.js"

// -----------------------------------------------------------------------------
// a hostile server
// -----------------------------------------------------------------------------

interface Hostile {
  readonly origin: string
  /** Requests received so far. */
  readonly hits: () => number
}

/** A server of the test's own on 127.0.0.1, closed (connections included) with the scope. */
const hostile = (handler: http.RequestListener): Effect.Effect<Hostile, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; hits: { n: number } }>((resume) => {
      const hits = { n: 0 }
      const server = http.createServer((req, res) => {
        hits.n++
        req.resume()
        req.on("end", () => handler(req, res))
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, hits })))
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ hits, server }) => ({
    origin: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    hits: () => hits.n
  })))

const json = (body: string, status = 200): http.RequestListener => (_req, res) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(body)
}

/** Writes `total` bytes of `fill` in 64 KiB chunks, as fast as the socket takes them, until it closes. */
const streamBytes = (res: http.ServerResponse, total: number, fill = 0x20) => {
  const chunk = Buffer.alloc(64 * 1024, fill)
  let sent = 0
  const pump = () => {
    while (sent < total && !res.destroyed) {
      sent += chunk.length
      if (!res.write(chunk)) return void res.once("drain", pump)
    }
    res.end()
  }
  res.on("close", () => {
    sent = total
  })
  pump()
}

const clients = {
  undici: NodeHttpClient.layerUndici,
  fetch: FetchHttpClient.layer
} as const

/** One token request of the client credentials grant, to `tokenUrl`, over `client`. */
const requestOnce = (tokenUrl: string, client: Layer.Layer<HttpClient.HttpClient> = clients.undici) =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const grant = Grant.makeClientCredentials(
      { tokenUrl, clientId: "app", clientSecret: Redacted.make("client-secret-1") },
      http
    )
    return yield* Effect.exit(grant.request(Option.none()))
  }).pipe(Effect.provide(client))

/** The `HttpError` a request ended with; fails the test on a success or a defect. */
const failure = (exit: Exit.Exit<Token.Token, TokenError.HttpError>): TokenError.HttpError => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a token")
  const error = Cause.failureOption(exit.cause)
  if (Option.isNone(error)) throw new Error(`expected an HttpError, got ${Cause.pretty(exit.cause).slice(0, 300)}`)
  return error.value
}

const nested = (depth: number, inner = ""): string => "[".repeat(depth) + inner + "]".repeat(depth)

/** The highest RSS seen while `effect` runs, above the RSS before it, in MB (sampled every 5 ms). */
const peakRss = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      globalThis.gc?.()
      const baseline = process.memoryUsage().rss
      const sample = { peak: baseline }
      const timer = setInterval(() => {
        sample.peak = Math.max(sample.peak, process.memoryUsage().rss)
      }, 5)
      return { baseline, sample, timer }
    }),
    ({ baseline, sample }) =>
      Effect.map(effect, (a) => {
        sample.peak = Math.max(sample.peak, process.memoryUsage().rss)
        return [a, (sample.peak - baseline) / (1024 * 1024)] as const
      }),
    ({ timer }) => Effect.sync(() => clearInterval(timer))
  )

// -----------------------------------------------------------------------------
// tests
// -----------------------------------------------------------------------------

describe("a hostile token endpoint", () => {
  describe("bodies are read up to a bound (Grant.MaxResponseSize, 1 MiB)", () => {
    for (const [name, client] of Object.entries(clients)) {
      it.scoped(
        `a 200 MB token response, chunked (${name}): "response too large", memory stays flat`,
        () =>
          Effect.gen(function*() {
            const server = yield* hostile((_req, res) => {
              res.writeHead(200, { "content-type": "application/json" })
              res.write("{\"access_token\":\"")
              streamBytes(res, 200 * 1024 * 1024, 0x41)
            })
            const [exit, grewMb] = yield* peakRss(requestOnce(`${server.origin}/token`, client))
            const error = failure(exit)
            assert.strictEqual(error.reason, "Decode")
            assert.include(error.message, "response too large: more than 1 MiB")
            assert.isBelow(grewMb, 50, `RSS grew by ${grewMb.toFixed(1)} MB while refusing a 200 MB response`)
          }),
        60_000
      )
    }

    it.scoped("a declared Content-Length over the bound is refused before the body is read", () =>
      Effect.gen(function*() {
        let written = 0
        const server = yield* hostile((_req, res) => {
          res.writeHead(200, { "content-type": "application/json", "content-length": String(200 * 1024 * 1024) })
          const chunk = Buffer.alloc(64 * 1024, 0x20)
          const pump = () => {
            while (!res.destroyed && written < 200 * 1024 * 1024) {
              written += chunk.length
              if (!res.write(chunk)) return void res.once("drain", pump)
            }
          }
          pump()
        })
        const error = failure(yield* requestOnce(`${server.origin}/token`))
        assert.strictEqual(error.reason, "Decode")
        assert.include(error.message, "response too large")
      }))

    it.scoped(
      "a gzip bomb through FetchHttpClient (1 MB on the wire, 1 GB inflated) is cut at the bound",
      () =>
        Effect.gen(function*() {
          const server = yield* hostile((_req, res) => {
            res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" })
            const gzip = zlib.createGzip({ level: 9 })
            gzip.pipe(res)
            const zeros = Buffer.alloc(1024 * 1024, 0x20)
            let written = 0
            const pump = () => {
              while (written < 1024 && !res.destroyed) {
                written++
                if (!gzip.write(zeros)) return void gzip.once("drain", pump)
              }
              gzip.end()
            }
            res.on("close", () => {
              written = 1024
              gzip.destroy()
            })
            pump()
          })
          const [exit, grewMb] = yield* peakRss(requestOnce(`${server.origin}/token`, clients.fetch))
          const error = failure(exit)
          assert.strictEqual(error.reason, "Decode")
          assert.include(error.message, "response too large")
          assert.isBelow(grewMb, 50, `RSS grew by ${grewMb.toFixed(1)} MB`)
        }),
      60_000
    )

    it.scoped("the bound is configurable where the service is built", () =>
      Effect.gen(function*() {
        const body = JSON.stringify({ access_token: "a".repeat(2000), token_type: "Bearer", expires_in: 3600 })
        const server = yield* hostile(json(body))
        const layer = (limit: number) =>
          TokenService.layer().pipe(
            Layer.provide(Grant.clientCredentials({
              tokenUrl: `${server.origin}/token`,
              clientId: "app",
              clientSecret: Redacted.make("client-secret-1")
            })),
            Layer.provide([RefreshPolicy.fixed("1 minute"), RetryPolicy.none, TokenStore.layerMemory]),
            Layer.provide(NodeHttpClient.layerUndici),
            Layer.provide(Layer.succeed(Grant.MaxResponseSize, limit))
          )
        const small = yield* Effect.exit(Effect.provide(TokenService.get, layer(1024)))
        assert.include(failure(small).message, "response too large: more than 1 KiB")
        const large = yield* Effect.provide(TokenService.get, layer(4096))
        assert.strictEqual(Redacted.value(large.accessToken).length, 2000)
      }))

    it.scoped("an error response over the bound keeps its status (a 503 stays transient) without being read", () =>
      Effect.gen(function*() {
        const server = yield* hostile((_req, res) => {
          res.writeHead(503, { "content-type": "text/html" })
          streamBytes(res, 50 * 1024 * 1024)
        })
        const error = failure(yield* requestOnce(`${server.origin}/token`))
        assert.strictEqual(error.reason, "Status")
        assert.strictEqual(error.status, 503)
        assert.isTrue(error.isTransient)
      }))

    it.scoped("metadata and device authorization responses are bounded too", () =>
      Effect.gen(function*() {
        const server = yield* hostile((_req, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.write("{\"issuer\":\"")
          streamBytes(res, 20 * 1024 * 1024, 0x41)
        })
        const client = yield* HttpClient.HttpClient
        const metadata = yield* Effect.exit(
          Grant.discover(server.origin).pipe(Effect.provideService(HttpClient.HttpClient, client))
        )
        assert.isTrue(Exit.isFailure(metadata))
        const text = Exit.isFailure(metadata) ? Cause.pretty(metadata.cause) : ""
        assert.include(text, "response too large")
        assert.notInclude(text, "RangeError")
        const device = Grant.makeDeviceCode({
          tokenUrl: `${server.origin}/token`,
          deviceAuthorizationUrl: `${server.origin}/device`,
          clientId: "app",
          prompt: () => Effect.void
        }, client)
        const error = failure(yield* Effect.exit(device.request(Option.none())))
        assert.include(error.message, "response too large")
      }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
  })

  describe("JSON nested 100,000 levels deep is a typed Decode error, not a RangeError defect", () => {
    const bodies = {
      "as the access token": `{"access_token":${nested(100_000)}}`,
      "beside a valid access token": `{"access_token":"abc","expires_in":${nested(100_000)}}`,
      "as the token type (objects)": `{"access_token":"abc","token_type":${"{\"a\":".repeat(100_000)}1${
        "}".repeat(100_000)
      }}`,
      "as an error body": `{"error":${nested(100_000)}}`
    }
    for (const [name, body] of Object.entries(bodies)) {
      it.scoped(name, () =>
        Effect.gen(function*() {
          const server = yield* hostile(json(body))
          const error = failure(yield* requestOnce(`${server.origin}/token`))
          assert.strictEqual(error.reason, "Decode")
          assert.notInclude(error.message, "RangeError")
        }))
    }

    it.scoped("an error status with such a body keeps its status", () =>
      Effect.gen(function*() {
        const server = yield* hostile(json(`{"error":${nested(100_000)}}`, 400))
        const error = failure(yield* requestOnce(`${server.origin}/token`))
        assert.strictEqual(error.reason, "Status")
        assert.strictEqual(error.status, 400)
      }))

    it.scoped("ordinary nesting (metadata with objects, arrays of scopes) still decodes", () =>
      Effect.gen(function*() {
        const server = yield* hostile(json(JSON.stringify({
          access_token: "abc",
          token_type: "Bearer",
          expires_in: 60,
          authorization_details: [{ type: "x", locations: [["a", { b: [1, [2, [3]]] }]] }]
        })))
        const exit = yield* requestOnce(`${server.origin}/token`)
        assert.isTrue(Exit.isSuccess(exit))
      }))
  })

  describe("the token and its type are checked before anything is cached", () => {
    const bad = {
      "token_type with CR LF": { access_token: "abc", token_type: "Bearer\r\nX-Injected: y" },
      "token_type with LF": { access_token: "abc", token_type: "Bearer\nabc" },
      "token_type with NUL": { access_token: "abc", token_type: "Bearer\u0000" },
      "token_type with a space": { access_token: "abc", token_type: "Bearer x" },
      "token_type with C1 (U+009B)": { access_token: "abc", token_type: "Bearer\u009b" },
      "an empty token_type": { access_token: "abc", token_type: "" },
      "access_token with CR LF": { access_token: "abc\r\nX-Injected: y", token_type: "Bearer" },
      "access_token with a tab": { access_token: "abc\tdef", token_type: "Bearer" },
      "access_token with non-ASCII": { access_token: "abc\u00e9", token_type: "Bearer" }
    }
    for (const [name, body] of Object.entries(bad)) {
      it.scoped(`${name}: a Decode error, and the next get asks again`, () =>
        Effect.gen(function*() {
          const server = yield* hostile(json(JSON.stringify({ ...body, expires_in: 3600 })))
          const layer = TokenService.layer().pipe(
            Layer.provide(Grant.clientCredentials({
              tokenUrl: `${server.origin}/token`,
              clientId: "app",
              clientSecret: Redacted.make("client-secret-1")
            })),
            Layer.provide([RefreshPolicy.fixed("1 minute"), RetryPolicy.none, TokenStore.layerMemory]),
            Layer.provide(NodeHttpClient.layerUndici)
          )
          yield* Effect.gen(function*() {
            const tokens = yield* TokenService.TokenService
            const first = failure(yield* Effect.exit(tokens.get))
            assert.strictEqual(first.reason, "Decode")
            assert.notInclude(first.message, "abc")
            // not cached: a new request, after the 1 s spacing of token requests
            const again = yield* Effect.fork(Effect.exit(tokens.get))
            yield* TestClock.adjust("1 second")
            yield* Fiber.join(again)
          }).pipe(Effect.provide(layer))
          assert.strictEqual(server.hits(), 2)
        }))
    }

    it.scoped("token types that are RFC 9110 tokens are kept (bearer becomes Bearer, DPoP stays)", () =>
      Effect.gen(function*() {
        for (const [sent, kept] of [["bearer", "Bearer"], ["DPoP", "DPoP"], ["N_A", "N_A"]] as const) {
          const server = yield* hostile(json(JSON.stringify({ access_token: "abc.def-_~+/=", token_type: sent })))
          const token = yield* requestOnce(`${server.origin}/token`)
          assert.isTrue(Exit.isSuccess(token))
          if (Exit.isSuccess(token)) assert.strictEqual(token.value.tokenType, kept)
        }
      }))

    it.effect("a stored token with such a type is Corrupted, never loaded", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          Token.fromJson(JSON.stringify({ access_token: "abc", token_type: "Bearer\r\nX: y" }))
        )
        assert.isTrue(Exit.isFailure(exit))
      }))

    it.scoped("server texts in errors are escaped and cut: no control character reaches a log", () =>
      Effect.gen(function*() {
        const server = yield* hostile(json(
          JSON.stringify({
            error: "invalid_client\u001b]0;pwned\u0007",
            error_description: `bad\r\nX: y\u009b31m\u202e ${"x".repeat(5000)}`
          }),
          401
        ))
        const error = failure(yield* requestOnce(`${server.origin}/token`))

        assert.notMatch(error.message, /[\x00-\x1F\x7F-\x9F\u202A-\u202E]/)
        assert.include(error.message, "\\x1b]0;pwned\\x07")
        assert.include(error.message, "\\x0d\\x0aX: y\\x9b31m\\u202e")
        assert.isBelow(error.message.length, 1200)
      }))
  })

  describe("redirects are never followed", () => {
    for (const status of [301, 302, 303, 307, 308]) {
      for (const [name, client] of Object.entries(clients)) {
        it.scoped(`${status} to another origin (${name}): a Status error naming it; the other origin sees nothing`, () =>
          Effect.gen(function*() {
            const elsewhere = yield* hostile(json(JSON.stringify({ access_token: "stolen", token_type: "Bearer" })))
            const server = yield* hostile((_req, res) => {
              res.writeHead(status, { location: `${elsewhere.origin}/collect?x=1` })
              res.end()
            })
            const error = failure(yield* requestOnce(`${server.origin}/token`, client))
            assert.strictEqual(error.reason, "Status")
            assert.strictEqual(error.status, status)
            assert.isFalse(error.isTransient)
            assert.include(error.message, `redirected to ${elsewhere.origin}`)
            assert.notInclude(error.message, "collect")
            assert.strictEqual(elsewhere.hits(), 0)
          }))
      }
    }
  })

  it.scoped("a client wrapped with HttpClient.followRedirects: the other origin's token is not taken", () =>
    Effect.gen(function*() {
      const elsewhere = yield* hostile(json(JSON.stringify({ access_token: "stolen", token_type: "Bearer" })))
      const server = yield* hostile((_req, res) => {
        res.writeHead(307, { location: `${elsewhere.origin}/token` })
        res.end()
      })
      const following = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, (client) => HttpClient.followRedirects(client, 3))
      ).pipe(Layer.provide(clients.undici))
      const error = failure(yield* requestOnce(`${server.origin}/token`, following))
      assert.strictEqual(error.reason, "Status")
      assert.include(error.message, `the answer came from ${elsewhere.origin}`)
    }))

  describe("secrets in the token URL stay out of keys, logs and file names", () => {
    it.scoped("user, password and query are replaced by a hash in the key; the log lines and the file name show neither", () =>
      Effect.gen(function*() {
        const server = yield* hostile(
          json(JSON.stringify({ access_token: "abc", token_type: "Bearer", expires_in: 3600 }))
        )
        const port = new URL(server.origin).port
        const tokenUrl = `http://alice:pa55word@127.0.0.1:${port}/token?api_key=K3Y-s3cret#frag`
        const client = yield* HttpClient.HttpClient
        const grant = Grant.makeClientCredentials(
          { tokenUrl, clientId: "app", clientSecret: Redacted.make("client-secret-1") },
          client
        )
        for (const secret of ["alice", "pa55word", "K3Y-s3cret", "api_key", "frag"]) {
          assert.notInclude(grant.key, secret)
        }
        assert.include(grant.key, `url=http://127.0.0.1:${port}/token`)
        assert.match(grant.key, /url_hash=[0-9a-f]{16}/)
        const other = Grant.makeClientCredentials(
          { tokenUrl: tokenUrl.replace("pa55word", "other"), clientId: "app", clientSecret: Redacted.make("s") },
          client
        )
        assert.notStrictEqual(other.key, grant.key)
        // a URL without secret parts keeps the key it always had
        const plain = Grant.makeClientCredentials(
          { tokenUrl: `http://127.0.0.1:${port}/token`, clientId: "app", clientSecret: Redacted.make("s") },
          client
        )
        assert.strictEqual(plain.key, `grant=client_credentials;url=http://127.0.0.1:${port}/token;client=app`)

        const directory = fs.mkdtempSync(path.join(os.tmpdir(), "tokenlayer-hostile-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(directory, { recursive: true, force: true })))
        fs.chmodSync(directory, 0o700)
        // a store whose lock fails, so that the key is logged
        const store = Layer.effect(
          TokenStore.TokenStore,
          Effect.map(TokenStore.makeFile({ directory }), (file) => ({
            ...file,
            lock: (key: string) => Effect.fail(new TokenError.StoreError({ key, operation: "lock", reason: "test" }))
          }))
        ).pipe(Layer.provide(NodeFileSystem.layer))
        const [, logs] = yield* captureLogs(
          Effect.provide(
            TokenService.get,
            TokenService.layer().pipe(
              Layer.provide(Layer.succeed(Grant.Grant, grant)),
              Layer.provide([RefreshPolicy.fixed("1 minute"), RetryPolicy.none, store])
            )
          )
        )
        const text = logs.join("\n") + fs.readdirSync(directory).join("\n")
        assert.include(logs.join("\n"), "tokenlayer.key")
        for (const secret of ["alice", "pa55word", "K3Y-s3cret"]) assert.notInclude(text, secret)
        assert.isAbove(fs.readdirSync(directory).length, 0)
      }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
  })

  describe("long keys", () => {
    it("errors show at most 300 characters of a key (a megabyte-long client id made megabyte log lines)", () => {
      const key = `grant=client_credentials;client=${"a".repeat(1_000_000)}`
      for (
        const error of [
          new TokenError.StoreError({ key, operation: "load", reason: "test" }),
          new TokenError.NotCached({ key }),
          new TokenError.Corrupted({ key, reason: "test" })
        ]
      ) {
        assert.isBelow(error.message.length, 400)
        assert.include(error.message, "(1000032 characters)")
        assert.strictEqual(error.key, key)
      }
    })
  })

  describe("TokenManager.fetch", () => {
    it.scoped("a token that cannot be a header value is refused without quoting it", () =>
      Effect.gen(function*() {
        const bad = Token.make({
          accessToken: Redacted.make("tok-3e5f"),
          tokenType: "Bearer\r\nX: y",
          issuedAt: DateTime.unsafeMake(0)
        })
        const service: TokenService.Service = {
          key: "test",
          get: Effect.succeed(bad),
          current: Effect.succeed(bad),
          refresh: Effect.succeed(bad),
          invalidate: () => Effect.void
        }
        const manager = TokenManager.make(Layer.succeed(TokenService.TokenService, service))
        yield* Effect.addFinalizer(() => Effect.promise(() => manager.dispose()))
        const error = yield* Effect.promise(() =>
          manager.fetch("http://127.0.0.1:9/").then(() => undefined, (e: unknown) => e)
        )
        assert.instanceOf(error, TypeError)
        assert.notInclude(String(error), "tok-3e5f")
        assert.include(String(error), "Authorization header")
      }))
  })
})
