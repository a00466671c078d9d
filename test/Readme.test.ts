// The README's "Testing your own program" example, kept here so that it compiles and passes.
import { assert, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { RetryPolicy, Token, TokenService } from "tokenlayer"
import { TestGrant } from "tokenlayer/testing"

// the program under test: it needs a TokenService and builds an Authorization header
const authorization = Effect.map(TokenService.get, Token.authorizationHeader)

// the real program provides Grant.clientCredentials(...); the test provides TestGrant instead
const TestLayer = TokenService.layer().pipe(
  Layer.provideMerge(TestGrant.layer({ lifetime: "1 hour" })),
  Layer.provide(RetryPolicy.none)
)

it.effect("uses one token until 5 minutes before it expires", () =>
  Effect.gen(function*() {
    assert.strictEqual(yield* authorization, "Bearer test-access-token-1")
    yield* TestClock.adjust("54 minutes")
    assert.strictEqual(yield* authorization, "Bearer test-access-token-1")
    yield* TestClock.adjust("1 minute")
    assert.strictEqual(yield* authorization, "Bearer test-access-token-2")
    assert.strictEqual(yield* TestGrant.requests, 2)
  }).pipe(Effect.provide(TestLayer)))

it.effect("keeps working through a token endpoint outage while the token is valid", () =>
  Effect.gen(function*() {
    yield* authorization
    yield* TestGrant.failNext(1_000) // the endpoint is down from now on
    yield* TestClock.adjust("56 minutes") // due, not expired
    assert.strictEqual(yield* authorization, "Bearer test-access-token-1")
    yield* TestClock.adjust("4 minutes") // expired
    const error = yield* Effect.flip(authorization)
    assert.strictEqual(error._tag, "HttpError")
  }).pipe(Effect.provide(TestLayer)))
