/**
 * `TokenCache` over real HTTP against the embedded AuthServer on 127.0.0.1, on TestClock: single flight
 * per key, per-key expiry and renewal, keys never shared across scope / audience / resource / subject,
 * the bound and eviction without losing a refresh token, per-user refresh tokens, `remove(subject)`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Exit, Layer, Option, Redacted, TestClock } from "effect"
import * as Inspect from "node:util"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenCache, TokenError, TokenManager, TokenStore } from "tokenlayer"
import { AuthServer, TestGrant } from "tokenlayer/testing"
import { apiStatus } from "./support/authServer.js"

const scopes = Array.from({ length: 100 }, (_, i) => `s${i}`)
const clients: ReadonlyArray<AuthServer.ClientRegistration> = [
  { id: "app", secret: "s3cret", scopes },
  { id: "cli", method: "none" }
]

const Live = Layer.merge(AuthServer.layer({ clients, tokenLifetime: "10 minutes" }), NodeHttpClient.layerUndici)

/** A client credentials grant of `app` at the server's endpoint. */
const appGrant = Effect.gen(function*() {
  const s = yield* AuthServer.AuthServer
  const client = yield* HttpClient.HttpClient
  return Grant.makeClientCredentials(
    { tokenUrl: s.tokenUrl, clientId: "app", clientSecret: Redacted.make("s3cret") },
    client
  )
})

/** A refresh token grant of the public client `cli`, started from `refreshToken`. */
const cliGrant = (refreshToken: Redacted.Redacted<string>) =>
  Effect.gen(function*() {
    const s = yield* AuthServer.AuthServer
    const client = yield* HttpClient.HttpClient
    return Grant.makeRefreshToken({ tokenUrl: s.tokenUrl, clientId: "cli", refreshToken }, client)
  })

const cacheFor = (
  grant: Grant.Service,
  store: TokenStore.Service,
  options?: TokenCache.Options
) =>
  TokenCache.make(options).pipe(
    Effect.provideService(Grant.Grant, grant),
    Effect.provideService(TokenStore.TokenStore, store),
    Effect.provide(Layer.mergeAll(RefreshPolicy.fixed("1 minute"), RetryPolicy.none))
  )

const value = (redacted: Redacted.Redacted<string> | undefined) =>
  redacted === undefined ? undefined : Redacted.value(redacted)

describe("TokenCache", () => {
  it.scoped("10,000 concurrent gets over 100 keys make exactly 100 token requests, each for its scope", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      const cache = yield* cacheFor(yield* appGrant, store)
      const requests = Array.from({ length: 10_000 }, (_, i) => ({ scope: scopes[i % 100] }))
      const got = yield* Effect.forEach(requests, (r) => cache.get(r), { concurrency: "unbounded" })
      const issued = yield* AuthServer.tokens
      assert.strictEqual(issued.length, 100)
      for (let i = 0; i < requests.length; i++) {
        assert.strictEqual(got[i]!.scope, requests[i]!.scope)
      }
      // each key holds its own token; the same key the same token
      assert.strictEqual(new Set(got.map((t) => value(t.accessToken))).size, 100)
      assert.strictEqual(yield* cache.size, 100)
      assert.strictEqual(yield* apiStatus(got[0]!), 200)
    }).pipe(Effect.provide(Live)))

  it.scoped("each key expires and is renewed on its own", () =>
    Effect.gen(function*() {
      const cache = yield* cacheFor(yield* appGrant, yield* TokenStore.makeMemory)
      const a1 = yield* cache.get({ scope: "s1" })
      yield* TestClock.adjust("5 minutes")
      const b1 = yield* cache.get({ scope: "s2" })
      // s1 is due at 9 minutes, s2 at 14
      yield* TestClock.adjust("4 minutes")
      const a2 = yield* cache.get({ scope: "s1" })
      const b2 = yield* cache.get({ scope: "s2" })
      assert.notStrictEqual(value(a2.accessToken), value(a1.accessToken))
      assert.strictEqual(value(b2.accessToken), value(b1.accessToken))
      assert.strictEqual((yield* AuthServer.tokens).length, 3)
      yield* TestClock.adjust("5 minutes")
      const b3 = yield* cache.get({ scope: "s2" })
      assert.notStrictEqual(value(b3.accessToken), value(b1.accessToken))
      assert.strictEqual((yield* AuthServer.tokens).length, 4)
    }).pipe(Effect.provide(Live)))

  it.scoped("requests that differ in scope set, audience, resource, subject or params never share a key", () =>
    Effect.gen(function*() {
      const cache = yield* cacheFor(yield* appGrant, yield* TokenStore.makeMemory)
      const base = cache.keyOf()
      assert.strictEqual(cache.keyOf({}), base)
      assert.strictEqual(cache.keyOf({ scope: "read write" }), cache.keyOf({ scope: " write  read " }))
      assert.strictEqual(
        cache.keyOf({ resource: ["https://a.example", "https://b.example"] }),
        cache.keyOf({ resource: ["https://b.example", "https://a.example"] })
      )
      const keys = [
        cache.keyOf(),
        cache.keyOf({ scope: "read" }),
        cache.keyOf({ scope: "read write" }),
        cache.keyOf({ scope: "read;write" }),
        cache.keyOf({ audience: "read" }),
        cache.keyOf({ resource: "read" }),
        cache.keyOf({ resource: "https://a.example" }),
        cache.keyOf({ resource: "https://a.example", scope: "read" }),
        cache.keyOf({ subject: "read" }),
        cache.keyOf({ subject: "alice" }),
        cache.keyOf({ subject: "alice;request.scope=read" }),
        cache.keyOf({ subject: "alice", scope: "read" }),
        cache.keyOf({ params: { scope: "read" } }),
        cache.keyOf({ params: { a: "b=c" } }),
        cache.keyOf({ params: { "a=b": "c" } })
      ]
      assert.strictEqual(new Set(keys).size, keys.length)
      for (const key of keys.slice(1)) assert.isTrue(key.startsWith(`${base};`))
    }).pipe(Effect.provide(Live)))

  it.scoped("a subject for a client credentials grant, or any request for a grant without forRequest, is a typed error; nothing is sent", () =>
    Effect.gen(function*() {
      const cache = yield* cacheFor(yield* appGrant, yield* TokenStore.makeMemory)
      const error = yield* Effect.flip(cache.get({ subject: "alice" }))
      assert.strictEqual(error._tag, "HttpError")
      assert.include(error.message, "not a user's")
      assert.strictEqual((yield* AuthServer.tokens).length, 0)

      const [testGrant, test] = yield* TestGrant.make({ lifetime: "1 hour" })
      const plain = yield* cacheFor(testGrant, yield* TokenStore.makeMemory)
      const refused = yield* Effect.flip(plain.get({ scope: "read" }))
      assert.include(refused.message, "cannot ask for a token for a request")
      assert.strictEqual(yield* test.requests, 0)
      // the empty request is the grant's own token
      yield* plain.get()
      assert.strictEqual(yield* test.requests, 1)
    }).pipe(Effect.provide(Live)))

  it.scoped("at most maxEntries keys in memory; a dropped key is loaded back from the store, not fetched", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      const cache = yield* cacheFor(yield* appGrant, store, { maxEntries: 2 })
      const a = yield* cache.get({ scope: "s1" })
      yield* cache.get({ scope: "s1" }) // referenced: a second chance
      yield* cache.get({ scope: "s2" })
      yield* cache.get({ scope: "s3" })
      assert.strictEqual(yield* cache.size, 2)
      assert.strictEqual((yield* AuthServer.tokens).length, 3)
      // every key comes back from the store with no token request
      for (const scope of ["s1", "s2", "s3"]) yield* cache.get({ scope })
      assert.strictEqual((yield* AuthServer.tokens).length, 3)
      assert.strictEqual(value((yield* cache.get({ scope: "s1" })).accessToken), value(a.accessToken))
      assert.isAtMost(yield* cache.size, 2)
    }).pipe(Effect.provide(Live)))

  it.scoped("a key not asked for during idleTimeToLive is dropped from memory, its token kept in the store", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      const cache = yield* cacheFor(yield* appGrant, store, { idleTimeToLive: "2 minutes" })
      yield* cache.get({ scope: "s1" })
      yield* TestClock.adjust("3 minutes")
      yield* cache.get({ scope: "s2" })
      assert.strictEqual(yield* cache.size, 1)
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(store.load(cache.keyOf({ scope: "s1" })))))
    }).pipe(Effect.provide(Live)))

  it.scoped("per-user refresh tokens: set after login, renewed per user, dropped and reloaded, never another user's", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      const cache = yield* cacheFor(yield* cliGrant(yield* AuthServer.issueRefreshToken("cli")), store, {
        maxEntries: 1
      })
      const now = yield* DateTime.now
      const login = (refreshToken: Redacted.Redacted<string>) =>
        Token.make({
          accessToken: Redacted.make("from-login"),
          tokenType: "Bearer",
          refreshToken,
          issuedAt: DateTime.subtract(now, { hours: 1 }),
          expiresAt: DateTime.subtract(now, { minutes: 1 })
        })
      const aliceLogin = yield* AuthServer.issueRefreshToken("cli")
      yield* cache.set({ subject: "alice" }, login(aliceLogin))

      // bob never logged in: a typed invalid_grant, nothing sent, never alice's or the grant's token
      const bob = yield* Effect.flip(cache.get({ subject: "bob" }))
      assert.isTrue(TokenError.isInvalidGrant(bob))
      assert.include(bob.message, "no refresh token for this user")
      assert.strictEqual((yield* AuthServer.tokens).length, 0)

      // alice's key was dropped from memory (maxEntries 1) by bob's: her token is loaded from the store
      const alice = yield* cache.get({ subject: "alice" })
      assert.strictEqual(yield* apiStatus(alice), 200)
      const trades = yield* AuthServer.refreshTokens
      assert.isTrue(trades.find((r) => value(r.refreshToken) === value(aliceLogin))!.spent)
      // her rotated refresh token is what the store holds
      const stored = yield* store.load(cache.keyOf({ subject: "alice" }))
      assert.strictEqual(value(stored.refreshToken), value(alice.refreshToken))

      // expired and dropped again: renewed with the rotated refresh token, from the store
      yield* cache.get({ subject: "bob" }).pipe(Effect.ignore)
      yield* TestClock.adjust("10 minutes")
      const renewed = yield* cache.get({ subject: "alice" })
      assert.notStrictEqual(value(renewed.accessToken), value(alice.accessToken))
      assert.strictEqual(yield* apiStatus(renewed), 200)
      assert.isFalse((yield* AuthServer.refreshTokens).some((r) => r.revoked))
    }).pipe(Effect.provide(Live)))

  it.scoped("remove(subject) forgets every token of that user, in memory and in the store, and no one else's", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      const cache = yield* cacheFor(yield* cliGrant(yield* AuthServer.issueRefreshToken("cli")), store, {
        maxEntries: 1
      })
      const token = (name: string) =>
        Token.make({
          accessToken: Redacted.make(name),
          tokenType: "Bearer",
          refreshToken: Redacted.make(`${name}-refresh`),
          issuedAt: DateTime.unsafeMake(0),
          expiresIn: undefined
        })
      yield* cache.set({ subject: "alice" }, token("a1"))
      yield* cache.set({ subject: "alice", scope: "read" }, token("a2"))
      yield* cache.set({ subject: "alice2" }, token("other"))
      yield* cache.set({ subject: "bob" }, token("b"))
      yield* cache.remove("alice")
      for (const request of [{ subject: "alice" }, { subject: "alice", scope: "read" }]) {
        assert.isTrue(Exit.isFailure(yield* Effect.exit(store.load(cache.keyOf(request)))))
        const current = yield* Effect.flip(cache.current(request))
        assert.strictEqual(current._tag, "NotCached")
      }
      assert.strictEqual(value((yield* cache.current({ subject: "alice2" })).accessToken), "other")
      assert.strictEqual(value((yield* cache.current({ subject: "bob" })).accessToken), "b")
      assert.isTrue(Option.isSome(Option.fromNullable(yield* store.load(cache.keyOf({ subject: "bob" })))))
    }).pipe(Effect.provide(Live)))

  it.scoped("a TokenService view of one request shares the cache's entry", () =>
    Effect.gen(function*() {
      const cache = yield* cacheFor(yield* appGrant, yield* TokenStore.makeMemory)
      const view = cache.service({ scope: "s7" })
      assert.strictEqual(view.key, cache.keyOf({ scope: "s7" }))
      const a = yield* view.get
      const b = yield* cache.get({ scope: "s7" })
      assert.strictEqual(value(a.accessToken), value(b.accessToken))
      yield* view.invalidate(a)
      yield* TestClock.adjust("1 second")
      const c = yield* cache.get({ scope: "s7" })
      assert.notStrictEqual(value(c.accessToken), value(a.accessToken))
      assert.strictEqual((yield* AuthServer.tokens).length, 2)
    }).pipe(Effect.provide(Live)))

  it.scoped("TokenManager.makeCache: getToken(request) per key for code outside Effect", () =>
    Effect.gen(function*() {
      const cache = yield* cacheFor(yield* appGrant, yield* TokenStore.makeMemory)
      const manager = TokenManager.makeCache(Layer.succeed(TokenCache.TokenCache, cache))
      const a = yield* Effect.promise(() => manager.getToken({ scope: "s1" }))
      const b = yield* Effect.promise(() => manager.getToken({ scope: "s2" }))
      const a2 = yield* Effect.promise(() => manager.getToken({ scope: "s1" }))
      assert.notStrictEqual(a, b)
      assert.strictEqual(a2, a)
      assert.strictEqual(yield* Effect.promise(() => manager.authorizationHeader({ scope: "s2" })), `Bearer ${b}`)
      yield* Effect.promise(() => manager.invalidate({ scope: "s1" }, a))
      yield* TestClock.adjust("1 second")
      assert.notStrictEqual(yield* Effect.promise(() => manager.getToken({ scope: "s1" })), a)
      assert.strictEqual((yield* AuthServer.tokens).length, 3)
      yield* Effect.promise(() => manager.dispose())
    }).pipe(Effect.provide(Live)))

  it.scoped("no secret in keys, errors or inspect output: a user's refresh token stays redacted", () =>
    Effect.gen(function*() {
      const secret = "rt-very-secret-value"
      const cache = yield* cacheFor(yield* cliGrant(Redacted.make("grant-secret-rt")), yield* TokenStore.makeMemory)
      const token = Token.make({
        accessToken: Redacted.make("at-very-secret-value"),
        tokenType: "Bearer",
        refreshToken: Redacted.make(secret),
        issuedAt: DateTime.unsafeMake(0),
        expiresIn: undefined
      })
      yield* cache.set({ subject: "alice" }, token)
      const error = yield* Effect.flip(cache.get({ subject: "bob" }))
      const texts = [
        cache.keyOf({ subject: "alice" }),
        error.message,
        String(error),
        JSON.stringify(error),
        Inspect.inspect(cache, { depth: 5 }),
        Inspect.inspect(yield* cache.current({ subject: "alice" }), { depth: 5 })
      ]
      for (const text of texts) {
        assert.notInclude(text, secret)
        assert.notInclude(text, "at-very-secret-value")
        assert.notInclude(text, "grant-secret-rt")
      }
    }).pipe(Effect.provide(Live)))
})
