/**
 * No client secret, access token or refresh token reaches a log line, an error message, `String(error)`,
 * `JSON.stringify(error)`, `inspect` output or a pretty-printed Cause, across the failure paths of a token
 * request over real HTTP.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Redacted, TestClock } from "effect"
import * as crypto from "node:crypto"
import { inspect } from "node:util"
import {
  ClientAuth,
  DPoP,
  Grant,
  MutualTls,
  RefreshPolicy,
  RetryPolicy,
  Token,
  TokenService,
  TokenSource,
  TokenStore
} from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { makeCertificates } from "./support/certificates.js"
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

describe("mutual TLS: no private key material in any output", () => {
  const certs = makeCertificates()
  // every line of the keys' base64 bodies
  const keyLines = [certs.client.privateKey, certs.other.privateKey]
    .flatMap((pem) => pem.split("\n"))
    .filter((line) => line !== "" && !line.startsWith("-----"))
  const assertNoKey = (what: string, value: unknown) => {
    for (const [how, text] of renderings(value)) {
      for (const line of keyLines) assert.isFalse(text.includes(line), `${what} (${how}) contains key material`)
    }
  }
  const tlsOf = (certificate: string, privateKey: string) =>
    MutualTls.make({ certificate: Redacted.make(certificate), privateKey: Redacted.make(privateKey), ca: certs.ca })

  it.scoped("the MutualTls value, its ClientAuth, and a bad pair's CertificateError and Cause", () =>
    Effect.gen(function*() {
      const tls = yield* tlsOf(certs.client.certificate, certs.client.privateKey)
      assertNoKey("MutualTls", tls)
      assertNoKey("ClientAuth.tlsClientAuth", ClientAuth.tlsClientAuth(tls))
      assertNoKey("ClientAuth.selfSignedTlsClientAuth", ClientAuth.selfSignedTlsClientAuth(tls))
      for (
        const [certificate, privateKey] of [
          [certs.client.certificate, certs.other.privateKey],
          [certs.client.privateKey, certs.client.privateKey],
          [certs.client.certificate, certs.client.privateKey.slice(0, 200)]
        ] as const
      ) {
        const exit = yield* Effect.exit(tlsOf(certificate, privateKey))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          assertNoKey("CertificateError", Cause.squash(exit.cause))
          assertNoKey("Cause.pretty", Cause.pretty(exit.cause))
        }
      }
    }))

  it.scoped("a token request refused over mTLS: the error and the logs", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const tls = yield* tlsOf(certs.other.certificate, certs.other.privateKey)
      const grant = yield* Effect.orDie(Grant.ClientCredentials.make({
        tokenUrl: server.mtls!.tokenUrl,
        clientId: "app",
        clientAuth: ClientAuth.tlsClientAuth(tls)
      }))
      const [exit, logs] = yield* captureLogs(Effect.exit(grant.request(Option.none())))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assertNoKey("HttpError", Cause.squash(exit.cause))
      for (const line of logs) assertNoKey("log", line)
    }).pipe(Effect.provide(Layer.merge(
      AuthServer.layer({
        mutualTls: { certificate: certs.server.certificate, privateKey: certs.server.privateKey, ca: certs.ca },
        clients: [{ id: "app", method: "tls_client_auth", tlsSubject: "CN=app, O=Tokenlayer Test" }]
      }),
      NodeHttpClient.layerUndici
    ))))
})

describe("subject, actor and assertion tokens from token sources are never printed", () => {
  const refusing = Effect.flatMap(
    TokenEndpoint.TokenEndpoint,
    (endpoint) => endpoint.respond({ status: 400, body: { error: "invalid_grant" } })
  )

  it.effect("a source's token, and the error of a source whose effect failed quoting it", () =>
    Effect.gen(function*() {
      const got = yield* TokenSource.succeed(Redacted.make(ACCESS)).get
      for (const [how, text] of renderings(got)) assertClean(`a source's token (${how})`, text)
      const failing = TokenSource.make({ name: "metadata", token: Effect.fail(new Error(`bad token ${ACCESS}`)) })
      const error = yield* Effect.flip(failing.get)
      for (const [how, text] of renderings(error)) assertClean(`a source's error (${how})`, text)
    }))

  it.effect("a refused exchange: the subject and actor tokens are in no error or log", () =>
    Effect.gen(function*() {
      yield* refusing
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      const [exit, logs] = yield* captureLogs(Effect.exit(Effect.provide(
        TokenService.get,
        TokenService.layer().pipe(
          Layer.provide(Grant.tokenExchange({
            tokenUrl: endpoint.url,
            clientId: "client-1",
            clientSecret: Redacted.make(SECRET),
            subject: TokenSource.succeed(Redacted.make(ACCESS)),
            actor: TokenSource.succeed(Redacted.make(REFRESH))
          })),
          Layer.provide(NodeHttpClient.layerUndici)
        )
      )))
      assert.isTrue(Exit.isFailure(exit))
      checkExit(exit, logs)
      const [request] = yield* endpoint.requests
      assert.strictEqual(request!.form.get("subject_token"), ACCESS)
      assert.strictEqual(request!.form.get("actor_token"), REFRESH)
    }).pipe(Effect.provide(TokenEndpoint.layer)))

  it.effect("a refused client assertion from a source: it is in no error or log", () =>
    Effect.gen(function*() {
      yield* refusing
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      const [exit, logs] = yield* captureLogs(Effect.exit(Effect.provide(
        TokenService.get,
        TokenService.layer().pipe(
          Layer.provide(Grant.clientCredentials({
            tokenUrl: endpoint.url,
            clientId: "client-1",
            clientAuth: ClientAuth.clientAssertion({ assertion: TokenSource.succeed(Redacted.make(ACCESS)) })
          })),
          Layer.provide(NodeHttpClient.layerUndici)
        )
      )))
      assert.isTrue(Exit.isFailure(exit))
      checkExit(exit, logs)
      assert.strictEqual((yield* endpoint.requests)[0]!.form.get("client_assertion"), ACCESS)
    }).pipe(Effect.provide(TokenEndpoint.layer)))
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
