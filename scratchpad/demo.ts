/**
 * The tokenlayer demo: `npm start`.
 *
 * Starts the embedded AuthServer (an OAuth 2.0 server and a protected API on 127.0.0.1) with 20-second
 * tokens, and calls its API once a second through `TokenHttpClient` for about 45 seconds, on the real
 * clock. Each call prints its status and the token's remaining lifetime; each new token prints a line.
 * Along the way the token endpoint answers a burst of 503s just before a renewal (the retry policy
 * recovers), and the current token is revoked on the server (the next call meets a 401, and is retried
 * once with a new token). Ends with a summary, and exits by itself.
 *
 *   npm start -- --duration 30   # seconds (default 45)
 *   npm start -- --quiet         # only the summary
 */
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Console, DateTime, Duration, Effect, Layer, Option, Redacted } from "effect"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenHttpClient, TokenService, TokenStore } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"

const flag = (name: string): Option.Option<string> => {
  const i = process.argv.indexOf(name)
  return i === -1 ? Option.none() : Option.fromNullable(process.argv[i + 1])
}
const duration = Option.getOrElse(Option.filter(Option.map(flag("--duration"), Number), Number.isFinite), () => 45)
const quiet = process.argv.includes("--quiet")
const say = (line: string) => quiet ? Effect.void : Console.log(line)

const CLIENT_ID = "demo-client"
const CLIENT_SECRET = "demo-secret"

/** When the token endpoint starts failing (a renewal is due at 15 s), and when the token is revoked. */
const OUTAGE_AT = 13
const REVOKE_AT = Math.min(30, Math.max(2, duration - 5))

// the token service asks the server with the plain client; the program's HttpClient is the authorized one
const TokensLive = Layer.unwrapEffect(
  Effect.map(AuthServer.AuthServer, (server) =>
    TokenService.layer().pipe(
      Layer.provide(Grant.clientCredentials({
        tokenUrl: server.tokenUrl,
        clientId: CLIENT_ID,
        clientSecret: Redacted.make(CLIENT_SECRET)
      })),
      Layer.provide([
        RefreshPolicy.fixed("5 seconds"),
        RetryPolicy.layerWith({ baseDelay: "300 millis" }),
        TokenStore.layerMemory
      ])
    ))
)

const DemoLive = TokenHttpClient.layer.pipe(
  Layer.provideMerge(TokensLive),
  Layer.provideMerge(
    AuthServer.layer({ clients: [{ id: CLIENT_ID, secret: CLIENT_SECRET, tokenLifetime: "20 seconds" }] })
  ),
  Layer.provide(NodeHttpClient.layerUndici)
)

const secondsLeft = (token: Token.Token, now: DateTime.Utc): string =>
  Option.match(Token.remaining(token, now), {
    onNone: () => "?",
    onSome: (left) => `${Math.floor(Duration.toSeconds(left))}s`
  })

const program = Effect.gen(function*() {
  const server = yield* AuthServer.AuthServer
  const api = yield* HttpClient.HttpClient
  const tokens = yield* TokenService.TokenService
  let previous: Token.Token | undefined
  let failed = 0
  let renewals = 0

  yield* say(`tokenlayer demo: ${duration} calls to ${server.apiUrl("contracts")}, once a second`)
  yield* say(`the server issues 20-second tokens; tokenlayer renews them 5 s before they expire\n`)

  for (let second = 1; second <= duration; second++) {
    if (second === OUTAGE_AT) {
      yield* say("  ! the token endpoint will answer the next 3 requests with 503 Service Unavailable")
      yield* server.inject(AuthServer.Fault.status(503), AuthServer.Fault.status(503), AuthServer.Fault.status(503))
    }
    if (second === REVOKE_AT && previous !== undefined) {
      yield* say("  ! the server revokes the current token")
      yield* server.revoke(previous.accessToken)
    }

    const before = yield* server.stats
    const status = yield* api.get(server.apiUrl("contracts")).pipe(
      Effect.tap((response) => response.text),
      Effect.map((response) => String(response.status)),
      Effect.catchAll((error) => Effect.succeed(`failed: ${error.message}`))
    )
    if (status !== "200") failed++
    const after = yield* server.stats
    const token = yield* Effect.option(tokens.current)
    const now = yield* DateTime.now

    if (Option.isSome(token) && (previous === undefined || !Token.sameAccessToken(previous, token.value))) {
      const requests = after.tokenRequests - before.tokenRequests
      const rejected = after.apiByStatus[401] ?? 0
      const why = previous === undefined
        ? "first token"
        : rejected > (before.apiByStatus[401] ?? 0)
        ? "the API answered 401: new token, request sent again"
        : "renewed ahead of expiry"
      const refused = requests - 1
      renewals++
      yield* say(
        `  ↻ token #${renewals} (${why}; ${requests} token request${requests === 1 ? "" : "s"}` +
          `${refused > 0 ? `, ${refused} refused and retried` : ""})`
      )
      previous = token.value
    }
    const left = Option.match(token, {
      onNone: () => "no token",
      onSome: (t) => `token expires in ${secondsLeft(t, now)}`
    })
    yield* say(`${String(second).padStart(3)}  GET /api/contracts → ${status}   ${left}`)
    if (second < duration) yield* Effect.sleep("1 second")
  }

  const stats = yield* server.stats
  const byOutcome = stats.tokenRequestsBy[CLIENT_ID] ?? {}
  const refused = Object.entries(byOutcome).filter(([outcome]) => outcome !== "issued").reduce((n, [, c]) => n + c, 0)
  yield* Console.log(
    `\nsummary: ${duration} API calls, ${failed} failed; ${stats.tokenRequests} token requests ` +
      `(${byOutcome.issued ?? 0} tokens issued, ${refused} refused and retried); ` +
      `${stats.unauthorizedBy.revoked} call(s) met a revoked token and were retried`
  )
})

NodeRuntime.runMain(program.pipe(Effect.provide(DemoLive)))
