/**
 * Benchmark sections for the HTTP layer (issue 3): requests per second through `TokenHttpClient` against
 * AuthServer's API on loopback versus the same client sending a fixed header, and the cost of a warm
 * `TokenManager.getToken()`. Called by `bench/run.ts`.
 */
import { NodeHttpClient } from "@effect/platform-node"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import {
  Grant,
  RefreshPolicy,
  RetryPolicy,
  Token,
  TokenHttpClient,
  TokenManager,
  TokenService,
  TokenStore
} from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { fmt, median, ratios, roundRobin, time } from "./stats.js"

/** What a section reports to the run. */
export interface Report {
  readonly log: (line: string) => void
  readonly row: (measure: string, figure: string, target: string, status: "PASS" | "MISSED" | "info") => void
  readonly ratioFigure: (rs: ReadonlyArray<number>) => string
  readonly minReps: number
}

const CLIENT_ID = "bench-api-client"
const CLIENT_SECRET = "bench-api-secret"

export const THROUGHPUT_REQUESTS = 2_000
export const THROUGHPUT_CONCURRENCY = 32
export const THROUGHPUT_REPS = 21
const THROUGHPUT_BUDGET_MS = 60_000
export const TARGET_THROUGHPUT_RATIO = 0.95

export const MANAGER_N = 50_000
export const MANAGER_REPS = 9
const MANAGER_BUDGET_MS = 10_000
/** A warm `getToken()` against a hand-written Promise manager's: at most this many times its cost. */
const TARGET_MANAGER_RATIO = 3
export const TARGET_MANAGER_US = 5

const tokenLayer = (server: AuthServer.Service) =>
  TokenService.layer().pipe(
    Layer.provide(Grant.clientCredentials({
      tokenUrl: server.tokenUrl,
      clientId: CLIENT_ID,
      clientSecret: Redacted.make(CLIENT_SECRET)
    })),
    Layer.provide([RefreshPolicy.fixed("5 minutes"), RetryPolicy.layerDefault, TokenStore.layerMemory]),
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** Runs both sections against one AuthServer in this process. */
export const benchHttp = async (report: Report): Promise<void> => {
  const serverRuntime = ManagedRuntime.make(
    Layer.merge(
      AuthServer.layer({ clients: [{ id: CLIENT_ID, secret: CLIENT_SECRET }] }),
      NodeHttpClient.layerUndici
    )
  )
  try {
    const server = await serverRuntime.runPromise(AuthServer.AuthServer)
    await benchThroughput(report, serverRuntime, server)
    await benchManager(report, server)
  } finally {
    await serverRuntime.dispose()
  }
}

const benchThroughput = async (
  report: Report,
  runtime: ManagedRuntime.ManagedRuntime<AuthServer.AuthServer | HttpClient.HttpClient, never>,
  server: AuthServer.Service
) => {
  report.log(
    `\n5. TokenHttpClient throughput: ${THROUGHPUT_REQUESTS} GETs to AuthServer's API, concurrency ${THROUGHPUT_CONCURRENCY}, up to ${THROUGHPUT_REPS} reps`
  )
  const tokensRuntime = ManagedRuntime.make(tokenLayer(server))
  try {
    const tokens = await tokensRuntime.runPromise(TokenService.TokenService)
    const plain = await runtime.runPromise(HttpClient.HttpClient)
    const authorized = TokenHttpClient.authorize(plain, tokens)
    const header = Token.authorizationHeader(await Effect.runPromise(tokens.get))
    const url = server.apiUrl("contracts")

    const batch = (send: Effect.Effect<number, unknown>) => () =>
      time(() =>
        Effect.runPromise(
          Effect.forEach(Array.from({ length: THROUGHPUT_REQUESTS }), () => send, {
            concurrency: THROUGHPUT_CONCURRENCY,
            discard: true
          })
        )
      )
    const statusOf = (client: HttpClient.HttpClient.With<unknown>, request: HttpClientRequest.HttpClientRequest) =>
      Effect.flatMap(client.execute(request), (response) => Effect.as(response.arrayBuffer, response.status))
    const viaTokenHttpClient = statusOf(authorized, HttpClientRequest.get(url))
    const fixedHeader = statusOf(
      plain,
      HttpClientRequest.get(url).pipe(HttpClientRequest.setHeader("authorization", header))
    )

    // both must be answered 200, or the comparison means nothing
    for (const send of [viaTokenHttpClient, fixedHeader]) {
      const status = await Effect.runPromise(send)
      if (status !== 200) throw new Error(`the API answered ${status} in the throughput bench`)
    }
    await batch(viaTokenHttpClient)()
    await batch(fixedHeader)()
    const t = await roundRobin(
      THROUGHPUT_REPS,
      { authorized: batch(viaTokenHttpClient), fixed: batch(fixedHeader) },
      { minReps: report.minReps, budgetMs: THROUGHPUT_BUDGET_MS }
    )
    const rps = (ms: number) => THROUGHPUT_REQUESTS / (ms / 1000)
    // requests per second, authorized / fixed = time fixed / time authorized
    const rs = ratios(t.fixed, t.authorized)
    const ratio = median(rs)
    const stats = await Effect.runPromise(server.stats)
    report.log(`   TokenHttpClient         ${fmt(rps(median(t.authorized)), 0)} requests/s`)
    report.log(`   fixed header, no wrap   ${fmt(rps(median(t.fixed)), 0)} requests/s`)
    report.log(`   ratio (median of ${t.authorized.length})     ${fmt(ratio, 3)}`)
    report.log(`   token requests made: ${stats.tokenRequests}`)
    report.row("5. TokenHttpClient, concurrency 32", `${fmt(rps(median(t.authorized)), 0)} requests/s`, "", "info")
    report.row("5. baseline: fixed header, no middleware", `${fmt(rps(median(t.fixed)), 0)} requests/s`, "", "info")
    // the middleware's own cost, without I/O: the same two ways over a client that answers at once
    const instant = HttpClient.make((request) =>
      Effect.succeed(HttpClientResponse.fromWeb(request, new Response(null, { status: 200 })))
    )
    const instantAuthorized = TokenHttpClient.authorize(instant, tokens)
    const OVERHEAD_N = 20_000
    const loop = (send: Effect.Effect<unknown, unknown>) => () =>
      time(() => Effect.runPromise(Effect.repeatN(send, OVERHEAD_N - 1)))
    const bare = loop(
      instant.execute(HttpClientRequest.get(url).pipe(HttpClientRequest.setHeader("authorization", header)))
    )
    const wrapped = loop(instantAuthorized.execute(HttpClientRequest.get(url)))
    await bare()
    await wrapped()
    const o = await roundRobin(9, { bare, wrapped }, { minReps: report.minReps, budgetMs: 10_000 })
    const overheadUs = ((median(o.wrapped) - median(o.bare)) * 1000) / OVERHEAD_N
    const perRequestUs = 1e6 / rps(median(t.fixed))
    report.log(
      `   middleware cost without I/O: ${fmt(overheadUs, 2)} us per request (a request takes ${
        fmt(perRequestUs, 0)
      } us here)`
    )
    report.row(
      "5. TokenHttpClient's own cost per request (no I/O)",
      `${fmt(overheadUs, 2)} us (${fmt((100 * overheadUs) / perRequestUs, 2)} % of a request)`,
      "",
      "info"
    )
    report.row(
      "5. throughput: TokenHttpClient / fixed header",
      report.ratioFigure(rs),
      `>= ${TARGET_THROUGHPUT_RATIO}`,
      ratio >= TARGET_THROUGHPUT_RATIO ? "PASS" : "MISSED"
    )
  } finally {
    await tokensRuntime.dispose()
  }
}

const benchManager = async (report: Report, server: AuthServer.Service) => {
  report.log(`\n6. TokenManager.getToken() on a warm cache: ${MANAGER_N} sequential awaits, up to ${MANAGER_REPS} reps`)
  const manager = TokenManager.make(tokenLayer(server))
  try {
    await manager.getToken()
    const resolved = Promise.resolve("x")
    const many = (call: () => Promise<string>) => () =>
      time(async () => {
        for (let i = 0; i < MANAGER_N; i++) await call()
      })
    // what the vendors' guides write by hand: a class whose async method returns the cached string
    class HandWritten {
      token = "x"
      async getToken(): Promise<string> {
        return this.token
      }
    }
    const hand = new HandWritten()
    const getToken = many(manager.getToken)
    const baseline = many(() => resolved)
    const handWritten = many(() => hand.getToken())
    await getToken()
    await baseline()
    await handWritten()
    const t = await roundRobin(MANAGER_REPS, { getToken, baseline, handWritten }, {
      minReps: report.minReps,
      budgetMs: MANAGER_BUDGET_MS
    })
    const us = (ms: number) => (ms * 1000) / MANAGER_N
    const perCall = us(median(t.getToken))
    report.log(`   getToken()               ${fmt(perCall, 2)} us/call`)
    report.log(`   await of a resolved one  ${fmt(us(median(t.baseline)), 3)} us/call`)
    report.row(
      "6. TokenManager.getToken(), warm",
      `${fmt(perCall, 2)} us/call`,
      `<= ${TARGET_MANAGER_US} us`,
      perCall <= TARGET_MANAGER_US ? "PASS" : "MISSED"
    )
    report.row("6. baseline: await a resolved Promise", `${fmt(us(median(t.baseline)), 3)} us/call`, "", "info")
    const handRatios = ratios(t.getToken, t.handWritten)
    report.log(`   hand-written async getToken ${fmt(us(median(t.handWritten)), 3)} us/call`)
    report.row(
      "6. getToken() / a hand-written async getToken() returning a cached string",
      `${fmt(median(handRatios), 2)}x (${fmt(us(median(t.handWritten)), 3)} us/call; reps ${
        fmt(Math.min(...handRatios), 2)
      }..${fmt(Math.max(...handRatios), 2)})`,
      `<= ${TARGET_MANAGER_RATIO}x`,
      median(handRatios) <= TARGET_MANAGER_RATIO ? "PASS" : "MISSED"
    )
  } finally {
    await manager.dispose()
  }
}
