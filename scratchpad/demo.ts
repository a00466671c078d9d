/**
 * The tokenlayer demo: `npm start`.
 *
 * Runs a TokenService on the real clock with short-lived tokens from TestGrant (12 s, renewed 3 s before
 * expiry), uses the token once a second and prints its remaining lifetime, like the Disruptive
 * Technologies guide's expected output. Just before the first renewal, the token endpoint starts failing
 * twice: the retry policy recovers. Exits by itself.
 *
 *   npm start -- --duration 20   # seconds (default 30)
 *   npm start -- --quiet         # only the summary
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, DateTime, Duration, Effect, Layer, Option } from "effect"
import { RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"
import { TestGrant } from "tokenlayer/testing"

const flag = (name: string): Option.Option<string> => {
  const i = process.argv.indexOf(name)
  return i === -1 ? Option.none() : Option.fromNullable(process.argv[i + 1])
}
const duration = Option.getOrElse(Option.map(flag("--duration"), Number), () => 30)
const quiet = process.argv.includes("--quiet")
const say = (line: string) => quiet ? Effect.void : Console.log(line)

const DemoLive = TokenService.layer().pipe(
  Layer.provideMerge(TestGrant.layer({ lifetime: "12 seconds" })),
  Layer.provide([
    RefreshPolicy.fixed("3 seconds"),
    RetryPolicy.layerWith({ baseDelay: "300 millis" }),
    TokenStore.layerMemory
  ])
)

const program = Effect.gen(function*() {
  const tokens = yield* TokenService.TokenService
  let previous: Token.Token | undefined
  let uses = 0
  let renewals = 0
  yield* say(`tokenlayer demo: ${duration} s, 12-second tokens renewed 3 s before expiry`)
  for (let second = 0; second < duration; second++) {
    if (second === 8) {
      yield* say("(the token endpoint will fail the next 2 requests with 503)")
      yield* TestGrant.failNext(2)
    }
    const started = yield* DateTime.now
    const token = yield* tokens.get
    const now = yield* DateTime.now
    uses++
    if (previous === undefined || !Token.sameAccessToken(previous, token)) {
      const waited = DateTime.distance(started, now)
      const lifetime = token.expiresIn === undefined ? "no expires_in" : `expires_in ${token.expiresIn} s`
      yield* say(`Refreshing... token #${++renewals} (${lifetime}) obtained in ${waited} ms`)
    }
    previous = token
    const left = Option.match(Token.remaining(token, now), {
      onNone: () => "?",
      onSome: (d) => `${Math.floor(Duration.toSeconds(d))}`
    })
    yield* say(`Token expires in ${left}s.`)
    yield* Effect.sleep("1 second")
  }
  const requests = yield* TestGrant.requests
  const issued = (yield* TestGrant.issued).length
  yield* Console.log(
    `summary: ${uses} uses, ${issued} tokens issued, ${requests} token requests (${
      requests - issued
    } failed and retried)`
  )
})

NodeRuntime.runMain(program.pipe(Effect.provide(DemoLive)))
