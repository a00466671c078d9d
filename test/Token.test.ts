import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Either, Redacted, Schema, TestClock } from "effect"
import { inspect } from "node:util"
import { Token } from "tokenlayer"

const SECRET_TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"

/** Decodes a body as a token endpoint's answer and describes the failure the way HttpError does. */
const decodeFailure = (body: unknown): Effect.Effect<string> =>
  Token.decodeResponse(body).pipe(
    Effect.flip,
    Effect.orDieWith(() => new Error("expected the body to be rejected")),
    Effect.map(Token.describeParseError)
  )

describe("Token.TokenResponse (RFC 6749 §5.1)", () => {
  it.effect("expires_in as a number: expiresAt is the Clock time at receipt plus expires_in", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(DateTime.unsafeMake("2025-01-01T00:00:00Z").epochMillis)
      const token = yield* Token.decodeResponse({ access_token: SECRET_TOKEN, token_type: "Bearer", expires_in: 3600 })
      assert.strictEqual(Redacted.value(token.accessToken), SECRET_TOKEN)
      assert.strictEqual(token.tokenType, "Bearer")
      assert.strictEqual(token.expiresIn, 3600)
      assert.strictEqual(token.issuedAt.toJSON(), "2025-01-01T00:00:00.000Z")
      assert.strictEqual(token.expiresAt?.toJSON(), "2025-01-01T01:00:00.000Z")
    }))

  it.effect("expires_in as a numeric string (\"3600\") means the same as the number", () =>
    Effect.gen(function*() {
      const token = yield* Token.decodeResponse({ access_token: SECRET_TOKEN, expires_in: "3600" })
      assert.strictEqual(token.expiresIn, 3600)
      assert.strictEqual(token.expiresAt?.epochMillis, token.issuedAt.epochMillis + 3_600_000)
    }))

  it.effect("no expires_in: no expiresIn and no expiresAt (the RefreshPolicy assumes a lifetime)", () =>
    Effect.gen(function*() {
      const token = yield* Token.decodeResponse({ access_token: SECRET_TOKEN, token_type: "Bearer" })
      assert.isUndefined(token.expiresIn)
      assert.isUndefined(token.expiresAt)
      assert.isFalse("expiresAt" in token)
    }))

  it.effect("token_type is case-insensitive for bearer, defaults to Bearer, and keeps other types", () =>
    Effect.gen(function*() {
      const types = yield* Effect.forEach(
        [{ token_type: "bearer" }, { token_type: "BEARER" }, {}, { token_type: "DPoP" }],
        (fields) => Effect.map(Token.decodeResponse({ access_token: SECRET_TOKEN, ...fields }), (t) => t.tokenType)
      )
      assert.deepStrictEqual(types, ["Bearer", "Bearer", "Bearer", "DPoP"])
    }))

  it.effect("unknown fields (Keycloak's not-before-policy, session_state, id_token) are ignored", () =>
    Effect.gen(function*() {
      const token = yield* Token.decodeResponse({
        access_token: SECRET_TOKEN,
        token_type: "Bearer",
        expires_in: 300,
        refresh_expires_in: 0,
        "not-before-policy": 0,
        session_state: "abc",
        id_token: "x.y.z",
        scope: "profile email"
      })
      assert.strictEqual(token.expiresIn, 300)
      assert.strictEqual(token.scope, "profile email")
      assert.isUndefined(token.refreshToken)
    }))

  it.effect("null optional fields (a serialiser that writes every field) mean absent; so does an empty refresh_token", () =>
    Effect.gen(function*() {
      const token = yield* Token.decodeResponse({
        access_token: SECRET_TOKEN,
        token_type: null,
        expires_in: null,
        refresh_token: null,
        scope: null
      })
      assert.strictEqual(token.tokenType, "Bearer")
      assert.isUndefined(token.expiresAt)
      assert.isUndefined(token.refreshToken)
      assert.isUndefined(token.scope)
      const empty = yield* Token.decodeResponse({ access_token: SECRET_TOKEN, refresh_token: "" })
      assert.isUndefined(empty.refreshToken)
      assert.isFalse("refreshToken" in empty)
    }))

  it.effect("refresh_token is kept, Redacted", () =>
    Effect.gen(function*() {
      const token = yield* Token.decodeResponse({ access_token: SECRET_TOKEN, refresh_token: "rt-secret-42" })
      assert.isTrue(token.refreshToken !== undefined && Redacted.isRedacted(token.refreshToken))
      assert.strictEqual(token.refreshToken && Redacted.value(token.refreshToken), "rt-secret-42")
    }))

  describe("rejects what is not a token, naming the field but not the token", () => {
    const cases: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
      ["a negative expires_in", { access_token: SECRET_TOKEN, expires_in: -5 }, "expires_in"],
      ["a non-numeric expires_in", { access_token: SECRET_TOKEN, expires_in: "abc" }, "expires_in"],
      ["a hexadecimal expires_in", { access_token: SECRET_TOKEN, expires_in: "0x10" }, "expires_in"],
      ["an exponent expires_in", { access_token: SECRET_TOKEN, expires_in: "1e3" }, "expires_in"],
      ["an empty-string expires_in", { access_token: SECRET_TOKEN, expires_in: "" }, "expires_in"],
      ["an expires_in over a year", { access_token: SECRET_TOKEN, expires_in: Token.maxExpiresIn + 1 }, "expires_in"],
      ["an empty access_token", { access_token: "", expires_in: 3600 }, "access_token"],
      ["a missing access_token", { token_type: "Bearer", expires_in: 3600 }, "access_token"],
      ["an access_token with a space", { access_token: `${SECRET_TOKEN} x`, expires_in: 3600 }, "access_token"],
      ["a numeric access_token", { access_token: 12345, expires_in: 3600 }, "access_token"]
    ]
    for (const [name, body, field] of cases) {
      it.effect(name, () =>
        Effect.gen(function*() {
          const message = yield* decodeFailure(body)
          assert.include(message, field)
          assert.notInclude(message, SECRET_TOKEN)
        }))
    }

    it.effect("one year exactly is still accepted", () =>
      Effect.gen(function*() {
        const token = yield* Token.decodeResponse({ access_token: SECRET_TOKEN, expires_in: Token.maxExpiresIn })
        assert.strictEqual(token.expiresIn, Token.maxExpiresIn)
      }))

    it.effect("a body that is not an object is a document error", () =>
      Effect.gen(function*() {
        assert.include(yield* decodeFailure("<html>hello</html>"), "(document)")
        assert.include(yield* decodeFailure(null), "(document)")
      }))
  })

  it.effect("a token never shows its access or refresh token when printed", () =>
    Effect.gen(function*() {
      const token = yield* Token.decodeResponse({
        access_token: SECRET_TOKEN,
        refresh_token: "rt-secret-42",
        expires_in: 60
      })
      for (const text of [String(token), JSON.stringify(token), inspect(token, { depth: 10 })]) {
        assert.notInclude(text, SECRET_TOKEN)
        assert.notInclude(text, "rt-secret-42")
      }
      assert.strictEqual(Token.authorizationHeader(token), `Bearer ${SECRET_TOKEN}`)
    }))
})

describe("Token stored form (seed 004 field names)", () => {
  it.effect("round-trips a token through its JSON text", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(DateTime.unsafeMake("2025-03-01T12:00:00Z").epochMillis)
      const token = yield* Token.decodeResponse({
        access_token: SECRET_TOKEN,
        token_type: "bearer",
        expires_in: "1800",
        refresh_token: "rt-secret-42",
        scope: "read write"
      })
      const json = Token.toJson(token)
      const parsed = JSON.parse(json) as Record<string, unknown>
      assert.deepStrictEqual(Object.keys(parsed).sort(), [
        "access_token",
        "expires_at",
        "expires_in",
        "issued_at",
        "refresh_token",
        "scope",
        "token_type"
      ])
      assert.strictEqual(parsed["expires_at"], "2025-03-01T12:30:00.000Z")
      const back = yield* Token.fromJson(json)
      assert.strictEqual(Redacted.value(back.accessToken), SECRET_TOKEN)
      assert.strictEqual(back.tokenType, "Bearer")
      assert.strictEqual(back.expiresIn, 1800)
      assert.strictEqual(back.scope, "read write")
      assert.strictEqual(back.issuedAt.toJSON(), token.issuedAt.toJSON())
      assert.strictEqual(back.expiresAt?.toJSON(), token.expiresAt?.toJSON())
    }))

  it.effect("reads a file written by another implementation (no issued_at): issued = expires_at - expires_in", () =>
    Effect.gen(function*() {
      const token = yield* Token.fromJson(JSON.stringify({
        access_token: SECRET_TOKEN,
        token_type: "Bearer",
        expires_in: 3600,
        refresh_token: null,
        scope: null,
        expires_at: "2025-01-01T01:00:00Z"
      }))
      assert.strictEqual(token.issuedAt.toJSON(), "2025-01-01T00:00:00.000Z")
      assert.isUndefined(token.refreshToken)
      assert.isUndefined(token.scope)
    }))

  it("a corrupted stored token fails to decode without showing its content", () => {
    const result = Schema.decodeEither(Token.TokenFromJson)(
      JSON.stringify({ access_token: SECRET_TOKEN, expires_in: "soon" })
    )
    assert.isTrue(Either.isLeft(result))
    if (Either.isLeft(result)) {
      const message = Token.describeParseError(result.left)
      assert.include(message, "expires_in")
      assert.notInclude(message, SECRET_TOKEN)
    }
  })
})
