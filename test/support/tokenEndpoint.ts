/**
 * A token endpoint for tests, served over real HTTP on 127.0.0.1 by `NodeHttpServer`.
 *
 * It records every request it receives (method, path, headers, raw body) so that tests assert on what
 * went over the wire, and answers with what the test chose: one reply for every request, or a list of
 * replies (the n-th request gets the n-th, the last one repeats).
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import * as net from "node:net"

/** One request as the server received it. */
export interface RecordedRequest {
  readonly method: string
  readonly url: string
  /** Header names in lower case, as Node gives them. */
  readonly headers: Readonly<Record<string, string>>
  /** The body as it went over the wire. */
  readonly body: string
  /** The body parsed as `application/x-www-form-urlencoded`. */
  readonly form: URLSearchParams
}

/** What the server answers. An object body is sent as JSON, a string body as it is. */
export interface Reply {
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | object
  /** Defaults to `application/json`. */
  readonly contentType?: string
  /** Waits this long (on the Clock of the test) before answering: a slow token endpoint. */
  readonly delay?: Duration.DurationInput
}

/** Chooses the reply to a request; `index` counts from 0. */
export type Responder = (request: RecordedRequest, index: number) => Reply

/** A successful token response with an opaque token, for tests that do not care about its shape. */
export const tokenReply = (fields: Record<string, unknown> = {}): Reply => ({
  body: { access_token: "at-opaque-0001", token_type: "Bearer", expires_in: 3600, ...fields }
})

export interface Service {
  /** The token endpoint's URL, `http://127.0.0.1:<port>/oauth2/token`. */
  readonly url: string
  /** Every request received since the last `respond`. */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** Forgets the requests received so far and answers the next ones with `replies`. */
  readonly respond: (replies: Reply | ReadonlyArray<Reply> | Responder) => Effect.Effect<void>
  /**
   * Waits, with real I/O turns of the event loop (no timers, no Clock), until the server has received
   * at least `count` requests.
   */
  readonly awaitRequests: (count: number) => Effect.Effect<ReadonlyArray<RecordedRequest>>
}

export class TokenEndpoint extends Context.Tag("test/TokenEndpoint")<TokenEndpoint, Service>() {}

/** One turn of the event loop, so that sockets make progress; no timer, so TestClock is not involved. */
export const ioTurn: Effect.Effect<void> = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** A pause of 10 ms of real time: a timer of Node's, not of the Clock, so TestClock is not involved. */
const realPause: Effect.Effect<void> = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 10)))

/**
 * Repeats `check` until it returns `true`: between turns of the event loop at first, then every 10 ms of
 * real time (so that a wait on another process leaves it the CPU). Fails the test (a defect) after
 * `maxMillis` of real time instead of hanging. Real time, read with `performance.now()`: it bounds the
 * test itself, which no Clock drives.
 */
export const pollUntil = (
  what: string,
  check: Effect.Effect<boolean>,
  maxMillis = 30_000
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const deadline = performance.now() + maxMillis
    for (let turn = 0;; turn++) {
      if (yield* check) return
      if (performance.now() > deadline) {
        return yield* Effect.dieMessage(`gave up waiting for ${what} (${maxMillis / 1000} s)`)
      }
      yield* turn < 1_000 ? ioTurn : realPause
    }
  })

const toResponder = (replies: Reply | ReadonlyArray<Reply> | Responder): Responder => {
  if (typeof replies === "function") return replies
  if (Array.isArray(replies)) {
    const list = replies as ReadonlyArray<Reply>
    if (list.length === 0) throw new Error("respond: give at least one reply")
    return (_, index) => list[Math.min(index, list.length - 1)]!
  }
  return () => replies as Reply
}

const render = (reply: Reply): HttpServerResponse.HttpServerResponse => {
  const body = reply.body === undefined ? "" : typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body)
  return HttpServerResponse.text(body, {
    status: reply.status ?? 200,
    contentType: reply.contentType ?? "application/json",
    ...(reply.headers === undefined ? {} : { headers: reply.headers })
  })
}

/** The recording endpoint, over the `HttpServer` in context. */
export const make: Effect.Effect<Service, never, HttpServer.HttpServer | Scope.Scope> = Effect.gen(
  function*() {
    const server = yield* HttpServer.HttpServer
    if (server.address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    const url = `http://127.0.0.1:${server.address.port}/oauth2/token`
    const received = yield* Ref.make<ReadonlyArray<RecordedRequest>>([])
    const responder = yield* Ref.make<Responder>(() => tokenReply())

    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const body = yield* request.text
      const recorded: RecordedRequest = {
        method: request.method,
        url: request.url,
        headers: { ...request.headers },
        body,
        form: new URLSearchParams(body)
      }
      const index = yield* Ref.modify(received, (all) => [all.length, [...all, recorded]])
      const respond = yield* Ref.get(responder)
      const reply = respond(recorded, index)
      if (reply.delay !== undefined) yield* Effect.sleep(reply.delay)
      return render(reply)
    }).pipe(Effect.orDie)

    yield* HttpServer.serveEffect(app)

    const requests = Ref.get(received)
    return {
      url,
      requests,
      respond: (replies) => Effect.zipRight(Ref.set(received, []), Ref.set(responder, toResponder(replies))),
      awaitRequests: (count) =>
        Effect.zipRight(
          pollUntil(`${count} token request(s)`, Effect.map(requests, (all) => all.length >= count)),
          requests
        )
    }
  }
)

/** A recording token endpoint on a free port of 127.0.0.1. */
export const layer: Layer.Layer<TokenEndpoint> = Layer.scoped(TokenEndpoint, make).pipe(
  Layer.provide(NodeHttpServer.layer(() => http.createServer(), { port: 0, host: "127.0.0.1" })),
  Layer.orDie
)

/**
 * A URL on 127.0.0.1 where nothing listens: a port the OS handed out and that was closed again, so a
 * connection to it is refused.
 */
export const closedPortUrl: Effect.Effect<string> = Effect.promise(() =>
  new Promise<string>((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      if (address === null || typeof address === "string") return reject(new Error("no TCP address"))
      probe.close(() => resolve(`http://127.0.0.1:${address.port}/oauth2/token`))
    })
  })
)
