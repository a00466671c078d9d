/**
 * No client secret, access token or refresh token reaches a log line, an error message, `String(error)`,
 * `JSON.stringify(error)`, `inspect` output or a pretty-printed Cause, across the failure paths of a token
 * request over real HTTP.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Redacted, TestClock } from "effect"
import * as crypto from "node:crypto"
import { inspect } from "node:util"
import { ClientAuth, DPoP, Grant, RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"
import { captureLogs } from "./support/logs.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

const SECRET = "s3cr3t-Zq9!x y:%+é"
const ACCESS = "AT-SECRET-4f1c9d2b7e"
const REFRESH = "RT-SECRET-88aa77bb"
const basicValue = Buffer.from(`${ClientAuth.formEncode("client-1")}:${ClientAuth.formEncode(SECRET)}`).toString(
  "base64"
)
const forbidden = [SECRET, ACCESS, REFRESH, basicValue, encodeURIComponent(SECRET), ClientAuth.formEncode(SECRET)]

const assertClean = (what: string, text: string) => {
  for (const secret of forbidden) {
    assert.isFalse(text.includes(secret), `${what} contains a secret: ${text}`)
  }
}

/** Every way a user might print a value. */
const renderings = (value: unknown): ReadonlyArray<readonly [string, string]> => [
  ["String", String(value)],
  ["JSON.stringify", JSON.stringify(value) ?? ""],
  ["inspect", inspect(value, { depth: 10, showHidden: true })],
  ["message", value instanceof Error ? value.message : ""],
  ["stack", value instanceof Error ? value.stack ?? "" : ""]
]

const services = (auth: "basic" | "post", tokenUrl: string) =>
  TokenService.layer().pipe(
    Layer.provide(
      Grant.clientCredentials({
        tokenUrl,
        clientId: "client-1",
        clientAuth: ClientAuth.fromMethod(auth, Redacted.make(SECRET))
      })
    ),
    Layer.provide([RefreshPolicy.fixed("5 minutes"), RetryPolicy.none, TokenStore.layerMemory]),
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** Runs `get` against the endpoint answering `reply`; returns the exit, the logs. */
const attempt = (auth: "basic" | "post", reply: TokenEndpoint.Reply | ReadonlyArray<TokenEndpoint.Reply>) =>
  Effect.gen(function*() {
    const endpoint = yield* TokenEndpoint.TokenEndpoint
    yield* endpoint.respond(reply)
    return yield* captureLogs(Effect.exit(TokenService.get.pipe(Effect.provide(services(auth, endpoint.url)))))
  })

const checkExit = (exit: Exit.Exit<Token.Token, unknown>, logs: ReadonlyArray<string>) => {
  for (const line of logs) assertClean("a log line", line)
  assertClean("the exit", inspect(exit, { depth: 10 }))
  if (Exit.isFailure(exit)) {
    assertClean("Cause.pretty", Cause.pretty(exit.cause))
    const error = Cause.squash(exit.cause)
    for (const [how, text] of renderings(error)) assertClean(`the error (${how})`, text)
  } else {
    for (const [how, text] of renderings(exit.value)) assertClean(`the token (${how})`, text)
  }
}

describe("secrets and tokens are never printed", () => {
  it.layer(TokenEndpoint.layer)((it) => {
    for (const auth of ["basic", "post"] as const) {
      it.effect(`a token obtained with ${auth} authentication, and its debug log`, () =>
        Effect.gen(function*() {
          const [exit, logs] = yield* attempt(auth, {
            body: { access_token: ACCESS, token_type: "bearer", expires_in: 3600, refresh_token: REFRESH }
          })
          assert.isTrue(Exit.isSuccess(exit))
          assert.isTrue(logs.some((l) => l.includes("new token")), "the debug log line is there")
          checkExit(exit, logs)
          // the token is usable all the same
          if (Exit.isSuccess(exit)) assert.strictEqual(Token.authorizationHeader(exit.value), `Bearer ${ACCESS}`)
        }))

      it.effect(`${auth}: the server refuses the client (invalid_client)`, () =>
        Effect.gen(function*() {
          const [exit, logs] = yield* attempt(auth, {
            status: 401,
            body: { error: "invalid_client", error_description: "Client authentication failed" }
          })
          assert.isTrue(Exit.isFailure(exit))
          checkExit(exit, logs)
        }))
    }

    it.effect("429 with Retry-After and an error description: the error carries both, and no secret", () =>
      Effect.gen(function*() {
        const [exit, logs] = yield* attempt("post", {
          status: 429,
          headers: { "retry-after": "5" },
          body: { error: "temporarily_unavailable", error_description: "too many requests for client-1" }
        })
        assert.isTrue(Exit.isFailure(exit))
        checkExit(exit, logs)
        const error = Cause.squash(Exit.isFailure(exit) ? exit.cause : Cause.empty)
        assert.include(String(error), "retry after 5s")
        assert.include(String(error), "too many requests")
      }))

    it.effect("a 200 with a token but a bad expires_in: Decode, without the token", () =>
      Effect.gen(function*() {
        const [exit, logs] = yield* attempt("basic", { body: { access_token: ACCESS, expires_in: -5 } })
        assert.isTrue(Exit.isFailure(exit))
        checkExit(exit, logs)
        const error = Cause.squash(Exit.isFailure(exit) ? exit.cause : Cause.empty)
        assert.include(String(error), "expires_in")
      }))

    it.effect("an access token that cannot go in a header (trailing newline): Decode, without the token", () =>
      Effect.gen(function*() {
        const [exit, logs] = yield* attempt("basic", { body: { access_token: `${ACCESS}\r\n`, expires_in: 60 } })
        assert.isTrue(Exit.isFailure(exit))
        checkExit(exit, logs)
        const error = Cause.squash(Exit.isFailure(exit) ? exit.cause : Cause.empty)
        assert.include(String(error), "access_token")
      }))

    it.effect("an access token nested in an object: Decode, without the token", () =>
      Effect.gen(function*() {
        const [exit, logs] = yield* attempt("basic", { body: { access_token: { value: ACCESS }, expires_in: 60 } })
        assert.isTrue(Exit.isFailure(exit))
        checkExit(exit, logs)
      }))

    it.effect("a 200 HTML page that echoes the token: Decode, without it", () =>
      Effect.gen(function*() {
        const [exit, logs] = yield* attempt("basic", {
          contentType: "text/html",
          body: `<html><body>${ACCESS} ${SECRET}</body></html>`
        })
        assert.isTrue(Exit.isFailure(exit))
        checkExit(exit, logs)
      }))

    it.effect("malformed JSON that contains the token: Decode, without it", () =>
      Effect.gen(function*() {
        const [exit, logs] = yield* attempt("post", { body: `{"access_token": "${ACCESS}", ` })
        assert.isTrue(Exit.isFailure(exit))
        checkExit(exit, logs)
      }))

    it.effect("an error page that echoes the secret is never shown", () =>
      Effect.gen(function*() {
        const [exit, logs] = yield* attempt("post", {
          status: 500,
          body: `Internal error while checking client_secret=${SECRET}`,
          contentType: "text/plain"
        })
        assert.isTrue(Exit.isFailure(exit))
        checkExit(exit, logs)
      }))

    it.effect("a renewal that fails logs a warning without the token", () =>
      Effect.gen(function*() {
        const endpoint = yield* TokenEndpoint.TokenEndpoint
        yield* endpoint.respond([
          { body: { access_token: ACCESS, expires_in: 600, refresh_token: REFRESH } },
          { status: 503, body: { error: "temporarily_unavailable" } }
        ])
        const [token, logs] = yield* captureLogs(
          Effect.gen(function*() {
            const tokens = yield* TokenService.TokenService
            yield* tokens.get
            yield* TestClock.adjust("6 minutes") // due (5-minute buffer), not expired
            return yield* tokens.get
          }).pipe(Effect.provide(services("basic", endpoint.url)))
        )
        assert.strictEqual(Redacted.value(token.accessToken), ACCESS)
        assert.isTrue(logs.some((l) => l.includes("WARN") && l.includes("temporarily_unavailable")))
        for (const line of logs) assertClean("a log line", line)
      }))
  })

  it.effect("credentials or a query in the token URL never reach an error", () =>
    Effect.gen(function*() {
      const url = yield* TokenEndpoint.closedPortUrl
      const withSecrets = url.replace("http://", `http://user:${encodeURIComponent(SECRET)}@`) + `?key=${ACCESS}`
      const [exit, logs] = yield* captureLogs(
        Effect.exit(TokenService.get.pipe(Effect.provide(services("basic", withSecrets))))
      )
      assert.isTrue(Exit.isFailure(exit))
      checkExit(exit, logs)
      const error = Cause.squash(Exit.isFailure(exit) ? exit.cause : Cause.empty)
      assert.include(String(error), url.replace(/^http:\/\//, "")) // the host and path are still shown
    }))

  it.effect("connection refused: Transport, without the secret", () =>
    Effect.gen(function*() {
      const url = yield* TokenEndpoint.closedPortUrl
      const [exit, logs] = yield* captureLogs(
        Effect.exit(TokenService.get.pipe(Effect.provide(services("basic", url))))
      )
      assert.isTrue(Exit.isFailure(exit))
      checkExit(exit, logs)
    }))
})

describe("DPoP private keys are never printed", () => {
  it.effect("a supplied key: not in the service, its errors, its logs or its proofs", () =>
    Effect.gen(function*() {
      const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" })
      const jwk = privateKey.export({ format: "jwk" })
      const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString()
      const secretParts = [jwk.d!, pem.split("\n")[1]!]
      const [dpop, logs] = yield* captureLogs(
        Effect.tap(DPoP.make({ key: Redacted.make(pem) }), (service) => Effect.logDebug("dpop", service))
      )
      const proof = yield* dpop.proof({ method: "POST", url: "https://auth.example/token" })
      // a key that does not fit: the error names the algorithm, not the key
      const error = yield* Effect.flip(DPoP.make({ key: Redacted.make(pem), alg: "RS256" }))
      const outputs = [
        inspect(dpop, { depth: 10 }),
        JSON.stringify(dpop),
        ...logs,
        Buffer.from(proof.split(".")[0]!, "base64url").toString(),
        Buffer.from(proof.split(".")[1]!, "base64url").toString(),
        inspect(error),
        JSON.stringify(error),
        error.message
      ]
      for (const output of outputs) for (const part of secretParts) assert.notInclude(output, part)
    }))
})
